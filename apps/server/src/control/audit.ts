/**
 * The audit trail: append-only records forming a SHA-256 hash chain. Each record's hash covers
 * the previous record's hash and the canonical JSON of its own fields, so changing any field of
 * any record, or removing one, breaks the chain at that point. Pruning old records stores an
 * anchor (the last pruned seq and hash) from which the remaining chain still verifies.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical-json.ts';
import { type Database, type SqlExecutor, toNumber } from './store/database.ts';
import type { Actor, AuditEntry, AuditLog } from './types.ts';

export const GENESIS_HASH = '0'.repeat(64);
const DAY_MS = 86_400_000;
const VERIFY_PAGE = 1000;

interface AuditRow {
  seq: unknown;
  at: unknown;
  actor: string;
  action: string;
  target: string;
  source: string;
  details: string;
  prev_hash: string;
  hash: string;
  [key: string]: unknown;
}

interface ChainRow {
  head_seq: unknown;
  head_hash: string;
  anchor_seq: unknown;
  anchor_hash: string;
  [key: string]: unknown;
}

/** The fields a record's hash covers: everything but the hashes themselves. */
export interface AuditFields {
  seq: number;
  at: number;
  actor: string;
  action: string;
  target: string;
  source: string;
  details: Record<string, unknown>;
}

export function hashRecord(prevHash: string, fields: AuditFields): string {
  return createHash('sha256')
    .update(prevHash, 'utf8')
    .update(canonicalJson({ ...fields, at: new Date(fields.at).toISOString() }), 'utf8')
    .digest('hex');
}

export interface AuditOptions {
  retentionDays: number;
  now?: () => number;
}

export class SqlAuditLog implements AuditLog {
  readonly #db: Database;
  readonly #retentionMs: number;
  readonly #now: () => number;

  constructor(db: Database, options: AuditOptions) {
    this.#db = db;
    this.#retentionMs = options.retentionDays * DAY_MS;
    this.#now = options.now ?? Date.now;
  }

  async append(actor: Actor, action: string, target: string, details: Record<string, unknown> = {}) {
    await this.#db.transaction((tx) => this.appendIn(tx, actor, action, target, details));
  }

  /** Appends inside a caller's transaction, so the action and its record commit together. */
  async appendIn(
    tx: SqlExecutor,
    actor: Actor,
    action: string,
    target: string,
    details: Record<string, unknown> = {},
  ): Promise<void> {
    const chain = await readChain(tx);
    const fields: AuditFields = {
      seq: toNumber(chain.head_seq) + 1,
      at: this.#now(),
      actor: actor.id,
      action,
      target,
      source: actor.source,
      // Round-trip through JSON so what is hashed is exactly what is stored and read back.
      details: JSON.parse(canonicalJson(details)) as Record<string, unknown>,
    };
    const hash = hashRecord(chain.head_hash, fields);
    await tx.run(
      `INSERT INTO audit_records (seq, at, actor, action, target, source, details, prev_hash, hash)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        fields.seq,
        fields.at,
        fields.actor,
        fields.action,
        fields.target,
        fields.source,
        canonicalJson(fields.details),
        chain.head_hash,
        hash,
      ],
    );
    await tx.run('UPDATE audit_chain SET head_seq = ?, head_hash = ? WHERE id = 1', [fields.seq, hash]);
  }

  /** Newest first. */
  async list(options: { limit?: number; sinceSeq?: number } = {}): Promise<AuditEntry[]> {
    const limit = Math.max(1, Math.min(options.limit ?? 100, 10_000));
    const rows = await this.#db.all<AuditRow>(
      'SELECT * FROM audit_records WHERE seq > ? ORDER BY seq DESC LIMIT ?',
      [options.sinceSeq ?? 0, limit],
    );
    return rows.map(toEntry);
  }

  async verify(): Promise<
    { ok: true; checked: number } | { ok: false; checked: number; brokenSeq: number; reason: string }
  > {
    const chain = await readChain(this.#db);
    let expectedSeq = toNumber(chain.anchor_seq) + 1;
    let prevHash = chain.anchor_hash;
    let checked = 0;
    for (;;) {
      const rows = await this.#db.all<AuditRow>(
        'SELECT * FROM audit_records WHERE seq >= ? ORDER BY seq LIMIT ?',
        [expectedSeq, VERIFY_PAGE],
      );
      for (const row of rows) {
        const entry = toEntry(row);
        if (entry.seq !== expectedSeq) {
          return broken(checked, entry.seq, `record ${expectedSeq} before it is missing`);
        }
        if (entry.prevHash !== prevHash || hashOfEntry(entry, prevHash) !== entry.hash) {
          return broken(checked, entry.seq, 'record was altered (its hash does not match its content)');
        }
        prevHash = entry.hash;
        expectedSeq += 1;
        checked += 1;
      }
      if (rows.length < VERIFY_PAGE) break;
    }
    const headSeq = toNumber(chain.head_seq);
    if (expectedSeq - 1 !== headSeq || prevHash !== chain.head_hash) {
      return broken(checked, headSeq, 'the newest record was removed or altered');
    }
    return { ok: true, checked };
  }

  async prune(now: Date = new Date(this.#now())): Promise<number> {
    const cutoff = now.getTime() - this.#retentionMs;
    return this.#db.transaction(async (tx) => {
      // Prune a prefix only: a gap in the middle would look like tampering.
      const last = await tx.get<AuditRow>(
        `SELECT * FROM audit_records WHERE seq < (
           SELECT COALESCE(MIN(seq), 9007199254740991) FROM audit_records WHERE at >= ?)
         ORDER BY seq DESC LIMIT 1`,
        [cutoff],
      );
      if (!last) return 0;
      const lastSeq = toNumber(last.seq);
      const removed = await tx.run('DELETE FROM audit_records WHERE seq <= ?', [lastSeq]);
      await tx.run('UPDATE audit_chain SET anchor_seq = ?, anchor_hash = ? WHERE id = 1', [
        lastSeq,
        last.hash,
      ]);
      return removed;
    });
  }
}

function broken(checked: number, brokenSeq: number, reason: string) {
  return { ok: false as const, checked, brokenSeq, reason };
}

async function readChain(executor: SqlExecutor): Promise<ChainRow> {
  const chain = await executor.get<ChainRow>('SELECT * FROM audit_chain WHERE id = 1');
  if (!chain) throw new Error('the audit chain head is missing from the database');
  return chain;
}

function toEntry(row: AuditRow): AuditEntry {
  return {
    seq: toNumber(row.seq),
    at: new Date(toNumber(row.at)),
    actor: row.actor,
    action: row.action,
    target: row.target,
    source: row.source,
    details: parseDetails(row.details),
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

function parseDetails(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : { invalid: text };
  } catch {
    // Altered into invalid JSON: keep the text so the hash check reports the record.
    return { invalid: text };
  }
}

function hashOfEntry(entry: AuditEntry, prevHash: string): string {
  return hashRecord(prevHash, {
    seq: entry.seq,
    at: entry.at.getTime(),
    actor: entry.actor,
    action: entry.action,
    target: entry.target,
    source: entry.source,
    details: entry.details,
  });
}
