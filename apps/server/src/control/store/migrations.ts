/**
 * Versioned, forward-only migrations. Each is applied once, inside a transaction, and recorded
 * in `schema_migrations`; running them again is a no-op. The logical schema is the same for
 * both dialects: only the spelling of a few column types differs (see `typesOf`).
 *
 * Never edit a released migration: add a new one.
 */
import type { Database, Dialect, SqlExecutor } from './database.ts';

interface ColumnTypes {
  /** Epoch milliseconds and sequence numbers. */
  int: string;
  bytes: string;
}

interface Migration {
  version: number;
  name: string;
  statements: (t: ColumnTypes) => string[];
}

function typesOf(dialect: Dialect): ColumnTypes {
  return dialect === 'postgres' ? { int: 'BIGINT', bytes: 'BYTEA' } : { int: 'INTEGER', bytes: 'BLOB' };
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'control plane: applications, secrets, keys, sessions, revocations, audit',
    statements: (t) => [
      `CREATE TABLE applications (
        app_id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        api_key TEXT NOT NULL UNIQUE,
        created_at ${t.int} NOT NULL
      )`,
      // Several rows per application during a rotation overlap. The current secret has no
      // expiry; a rotated one expires at the end of its overlap. The ciphertext is bound to
      // (app_id, secret_id) by the AES-GCM additional data.
      `CREATE TABLE app_secrets (
        secret_id TEXT PRIMARY KEY,
        app_id TEXT NOT NULL REFERENCES applications(app_id) ON DELETE CASCADE,
        iv ${t.bytes} NOT NULL,
        ciphertext ${t.bytes} NOT NULL,
        auth_tag ${t.bytes} NOT NULL,
        created_at ${t.int} NOT NULL,
        expires_at ${t.int}
      )`,
      'CREATE INDEX app_secrets_by_app ON app_secrets (app_id)',
      `CREATE TABLE app_public_keys (
        app_id TEXT PRIMARY KEY REFERENCES applications(app_id) ON DELETE CASCADE,
        algorithm TEXT NOT NULL,
        pem TEXT NOT NULL,
        created_at ${t.int} NOT NULL
      )`,
      // Session names are scoped per application: unique together with app_id. NULL names
      // (unnamed sessions) never collide.
      `CREATE TABLE sessions (
        session_id TEXT PRIMARY KEY,
        app_id TEXT NOT NULL REFERENCES applications(app_id) ON DELETE CASCADE,
        name TEXT,
        media_mode TEXT NOT NULL,
        e2ee INTEGER NOT NULL,
        max_participants INTEGER,
        archive_mode TEXT NOT NULL,
        region TEXT,
        metadata TEXT,
        created_at ${t.int} NOT NULL,
        UNIQUE (app_id, name)
      )`,
      'CREATE INDEX sessions_by_app_created ON sessions (app_id, created_at, session_id)',
      // Kept until no token they could match is still valid (revoked_at + max token lifetime).
      `CREATE TABLE token_revocations (
        revocation_id TEXT PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions(session_id) ON DELETE CASCADE,
        jti TEXT,
        identity TEXT,
        revoked_at ${t.int} NOT NULL,
        keep_until ${t.int} NOT NULL
      )`,
      'CREATE INDEX token_revocations_by_jti ON token_revocations (session_id, jti)',
      'CREATE INDEX token_revocations_by_identity ON token_revocations (session_id, identity)',
      `CREATE TABLE audit_records (
        seq ${t.int} PRIMARY KEY,
        at ${t.int} NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        source TEXT NOT NULL,
        details TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
      )`,
      'CREATE INDEX audit_records_by_time ON audit_records (at)',
      // One row. head_* is the last record appended (so removing the newest record is caught
      // too); anchor_* is the last record pruned (so the chain verifies after pruning).
      `CREATE TABLE audit_chain (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        head_seq ${t.int} NOT NULL,
        head_hash TEXT NOT NULL,
        anchor_seq ${t.int} NOT NULL,
        anchor_hash TEXT NOT NULL
      )`,
      `INSERT INTO audit_chain (id, head_seq, head_hash, anchor_seq, anchor_hash)
        VALUES (1, 0, '${'0'.repeat(64)}', 0, '${'0'.repeat(64)}')`,
    ],
  },
];

/** Applies every migration not yet recorded; returns the versions it applied. */
export async function migrate(db: Database, now: () => number = Date.now): Promise<number[]> {
  const types = typesOf(db.dialect);
  return db.transaction(async (tx) => {
    await tx.run(
      `CREATE TABLE IF NOT EXISTS schema_migrations (
        version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at ${types.int} NOT NULL)`,
    );
    const applied = new Set((await appliedVersions(tx)).map(Number));
    const newest = Math.max(0, ...applied);
    if (newest > LATEST_VERSION) {
      // A newer build migrated this store: running older code on it could corrupt it.
      throw new Error(`The database schema is version ${newest}; this build knows up to ${LATEST_VERSION}`);
    }
    const done: number[] = [];
    for (const migration of MIGRATIONS) {
      if (applied.has(migration.version)) continue;
      for (const statement of migration.statements(types)) await tx.run(statement);
      await tx.run('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)', [
        migration.version,
        migration.name,
        now(),
      ]);
      done.push(migration.version);
    }
    return done;
  });
}

async function appliedVersions(tx: SqlExecutor): Promise<unknown[]> {
  const rows = await tx.all<{ version: unknown }>('SELECT version FROM schema_migrations ORDER BY version');
  return rows.map((row) => row.version);
}

/** The newest version known to this build; a store newer than this is refused. */
export const LATEST_VERSION = MIGRATIONS.at(-1)?.version ?? 0;
