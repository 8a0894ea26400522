/**
 * SQLite store (the default): one file, WAL journal. better-sqlite3 is synchronous; the async
 * surface keeps the services identical for both dialects.
 *
 * Transactions are serialised per file inside the process, not only by SQLite's lock: the busy
 * timeout blocks the whole thread, so a second connection in the same process waiting for the
 * write lock would wait for a transaction that can never finish. Between processes (the CLI
 * beside a running server) the busy timeout does the job.
 */
import { chmodSync, realpathSync } from 'node:fs';
import BetterSqlite3 from 'better-sqlite3';
import type { Database, Row, SqlExecutor, SqlValue } from './database.ts';

type Connection = BetterSqlite3.Database;

export function openSqlite(file: string): Database {
  // The busy timeout lets the CLI and a running server take turns at the write lock.
  const db = new BetterSqlite3(file, { timeout: 5000 });
  db.pragma('journal_mode = WAL');
  db.pragma('foreign_keys = ON');
  db.pragma('synchronous = NORMAL');
  // Secrets in it are encrypted, but names, keys and the audit trail are nobody else's business.
  restrictToOwner(file);
  return new SqliteDatabase(db, gateOf(file));
}

/** Settles when the transaction in progress on this file (if any) ends. */
interface Gate {
  current: Promise<unknown>;
}
const gates = new Map<string, Gate>();

function gateOf(file: string): Gate {
  const key = realpathSync(file);
  let gate = gates.get(key);
  if (!gate) {
    gate = { current: Promise.resolve() };
    gates.set(key, gate);
  }
  return gate;
}

class SqliteExecutor implements SqlExecutor {
  readonly dialect = 'sqlite' as const;
  constructor(protected readonly db: Connection) {}

  async all<T extends Row = Row>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> {
    return this.db.prepare(sql).all(...params) as T[];
  }

  async get<T extends Row = Row>(sql: string, params: readonly SqlValue[] = []): Promise<T | undefined> {
    return this.db.prepare(sql).get(...params) as T | undefined;
  }

  async run(sql: string, params: readonly SqlValue[] = []): Promise<number> {
    return this.db.prepare(sql).run(...params).changes;
  }
}

class SqliteDatabase extends SqliteExecutor implements Database {
  readonly #gate: Gate;

  constructor(db: Connection, gate: Gate) {
    super(db);
    this.#gate = gate;
  }

  override async all<T extends Row = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]> {
    await this.#idle();
    return super.all<T>(sql, params);
  }

  override async get<T extends Row = Row>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined> {
    await this.#idle();
    return super.get<T>(sql, params);
  }

  override async run(sql: string, params?: readonly SqlValue[]): Promise<number> {
    await this.#idle();
    return super.run(sql, params);
  }

  transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    const result = this.#gate.current.then(() => this.#inTransaction(work));
    this.#gate.current = result.catch(() => undefined);
    return result;
  }

  async exec(script: string): Promise<void> {
    await this.#idle();
    this.db.exec(script);
  }

  async close(): Promise<void> {
    await this.#idle();
    this.db.close();
  }

  async #inTransaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    // IMMEDIATE takes the write lock now, not at the first write: read-then-write is atomic.
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const value = await work(new SqliteExecutor(this.db));
      this.db.exec('COMMIT');
      return value;
    } catch (err) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      throw err;
    }
  }

  async #idle(): Promise<void> {
    // Loop: another transaction may have queued behind the one we waited for.
    let seen: Promise<unknown>;
    do {
      seen = this.#gate.current;
      await seen;
    } while (seen !== this.#gate.current);
  }
}

function restrictToOwner(file: string): void {
  try {
    chmodSync(file, 0o600);
  } catch {
    // Not our file (a shared deployment may manage permissions itself): leave it as it is.
  }
}
