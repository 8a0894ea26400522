/**
 * The store interface: a small asynchronous SQL surface that SQLite (default, embedded) and
 * PostgreSQL (selected by a postgres:// URL) both implement. The services in `control/` write
 * their SQL once, with `?` placeholders and the portable subset both dialects understand; only
 * the column types in migrations and the connection handling differ per dialect.
 */

export type Dialect = 'sqlite' | 'postgres';

/** Values a statement may bind. Integers above 2^53 never occur: times are epoch milliseconds. */
export type SqlValue = string | number | Buffer | null;
export type Row = Record<string, unknown>;

export interface SqlExecutor {
  readonly dialect: Dialect;
  all<T extends Row = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  get<T extends Row = Row>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined>;
  /** Runs a statement; resolves with the number of rows it changed. */
  run(sql: string, params?: readonly SqlValue[]): Promise<number>;
}

export interface Database extends SqlExecutor {
  /**
   * Runs `work` in one transaction that holds the write lock from its first statement, so a
   * read-then-write (the audit chain head, say) cannot interleave with another writer, in this
   * process or another one (the CLI and the server share the store).
   */
  transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  /** Executes a script of several statements (migrations). */
  exec(script: string): Promise<void>;
  close(): Promise<void>;
}

/** True when a statement failed because a UNIQUE constraint refused a duplicate. */
export function isUniqueViolation(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const code = (err as { code?: unknown }).code;
  // better-sqlite3 reports SQLITE_CONSTRAINT_UNIQUE / _PRIMARYKEY; PostgreSQL reports 23505.
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === '23505';
}

/** Reads an integer column: PostgreSQL returns BIGINT as a string to avoid precision loss. */
export function toNumber(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' || typeof value === 'bigint') return Number(value);
  throw new TypeError(`expected an integer column, got ${typeof value}`);
}

export function toNullableNumber(value: unknown): number | null {
  return value === null || value === undefined ? null : toNumber(value);
}

export function toBuffer(value: unknown): Buffer {
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof Uint8Array) return Buffer.from(value);
  throw new TypeError('expected a binary column');
}
