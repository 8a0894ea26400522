/**
 * Sessions belong to one application; their names are unique within it. Every lookup is scoped
 * by application id, so another application's session is indistinguishable from a missing one.
 */
import { ConclaveError } from '@conclave/protocol/errors';
import type { CreateSessionRequest, ListSessionsQuery, Session } from '@conclave/protocol/rest';
import type { SqlAuditLog } from './audit.ts';
import { newSessionId } from './crypto/ids.ts';
import {
  type Database,
  isUniqueViolation,
  type SqlValue,
  toNullableNumber,
  toNumber,
} from './store/database.ts';
import type { Actor, SessionService } from './types.ts';

const DEFAULT_LIST_LIMIT = 50;
const MAX_LIST_LIMIT = 100;

interface SessionRow {
  session_id: string;
  name: string | null;
  media_mode: string;
  e2ee: unknown;
  max_participants: unknown;
  archive_mode: string;
  region: string | null;
  metadata: string | null;
  created_at: unknown;
  [key: string]: unknown;
}

/** Position after which the next page starts: sessions are listed by (created_at, id). */
interface Cursor {
  createdAt: number;
  id: string;
}

export class SqlSessionService implements SessionService {
  readonly #now: () => number;

  constructor(
    private readonly db: Database,
    private readonly audit: SqlAuditLog,
    now: () => number = Date.now,
  ) {
    this.#now = now;
  }

  async create(appId: string, options: CreateSessionRequest, actor: Actor): Promise<Session> {
    const session: Session = {
      id: newSessionId(),
      name: options.name ?? null,
      mediaMode: options.mediaMode ?? 'routed',
      e2ee: options.e2ee ?? false,
      maxParticipants: options.maxParticipants ?? null,
      archiveMode: options.archiveMode ?? 'manual',
      region: options.region ?? null,
      metadata: options.metadata ?? null,
      createdAt: new Date(this.#now()).toISOString(),
    };
    try {
      await this.db.transaction(async (tx) => {
        await tx.run(
          `INSERT INTO sessions (session_id, app_id, name, media_mode, e2ee, max_participants,
             archive_mode, region, metadata, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          [
            session.id,
            appId,
            session.name,
            session.mediaMode,
            session.e2ee ? 1 : 0,
            session.maxParticipants,
            session.archiveMode,
            session.region,
            session.metadata,
            Date.parse(session.createdAt),
          ],
        );
        // Metadata is the partner's business: the audit trail records that, not what.
        await this.audit.appendIn(tx, actor, 'session.created', session.id, {
          appId,
          name: session.name,
          mediaMode: session.mediaMode,
          e2ee: session.e2ee,
        });
      });
    } catch (err) {
      if (isUniqueViolation(err)) {
        throw new ConclaveError('conflict', 'A session with this name already exists in this application');
      }
      throw err;
    }
    return session;
  }

  async get(appId: string, sessionId: string): Promise<Session | null> {
    const row = await this.db.get<SessionRow>('SELECT * FROM sessions WHERE session_id = ? AND app_id = ?', [
      sessionId,
      appId,
    ]);
    return row ? toSession(row) : null;
  }

  async list(
    appId: string,
    query: ListSessionsQuery,
  ): Promise<{ sessions: Session[]; nextCursor: string | null }> {
    const limit = Math.min(Math.max(query.limit ?? DEFAULT_LIST_LIMIT, 1), MAX_LIST_LIMIT);
    const where = ['app_id = ?'];
    const params: SqlValue[] = [appId];
    if (query.name !== undefined) {
      where.push('name = ?');
      params.push(query.name);
    }
    if (query.cursor !== undefined) {
      const after = decodeCursor(query.cursor);
      where.push('(created_at > ? OR (created_at = ? AND session_id > ?))');
      params.push(after.createdAt, after.createdAt, after.id);
    }
    // One row more than asked tells whether another page exists.
    const rows = await this.db.all<SessionRow>(
      `SELECT * FROM sessions WHERE ${where.join(' AND ')} ORDER BY created_at, session_id LIMIT ?`,
      [...params, limit + 1],
    );
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    const nextCursor =
      rows.length > limit && last
        ? encodeCursor({ createdAt: toNumber(last.created_at), id: last.session_id })
        : null;
    return { sessions: page.map(toSession), nextCursor };
  }
}

function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify([cursor.createdAt, cursor.id]), 'utf8').toString('base64url');
}

function decodeCursor(text: string): Cursor {
  try {
    const value: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    if (Array.isArray(value) && Number.isSafeInteger(value[0]) && typeof value[1] === 'string') {
      return { createdAt: value[0] as number, id: value[1] };
    }
  } catch {
    // Fall through: every malformed cursor gets the same answer.
  }
  throw new ConclaveError('invalid_request', 'The cursor is not valid');
}

function toSession(row: SessionRow): Session {
  return {
    id: row.session_id,
    name: row.name,
    mediaMode: row.media_mode === 'relayed' ? 'relayed' : 'routed',
    e2ee: toNumber(row.e2ee) === 1,
    maxParticipants: toNullableNumber(row.max_participants),
    archiveMode: row.archive_mode === 'always' ? 'always' : 'manual',
    region: row.region,
    metadata: row.metadata,
    createdAt: new Date(toNumber(row.created_at)).toISOString(),
  };
}
