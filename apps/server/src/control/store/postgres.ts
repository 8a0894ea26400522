/**
 * PostgreSQL store, selected by a postgres:// URL. Statements are written with `?` placeholders
 * (the SQLite form) and numbered here; no statement in `control/` contains a literal `?`.
 */
import pg from 'pg';
import type { Database, Row, SqlExecutor, SqlValue } from './database.ts';

/** Serialises the transactions that must not interleave (any writer of the audit chain). */
const WRITE_LOCK_KEY = 0x636f6e63; // "conc"

export interface PostgresOptions {
  /** Schema to use (created if missing); tests run each in a fresh one. Default: the URL's. */
  schema?: string;
}

export async function openPostgres(url: string, options: PostgresOptions = {}): Promise<Database> {
  const schema = options.schema;
  const pool = new pg.Pool({
    connectionString: url,
    max: 5,
    ...(schema ? { options: `-c search_path=${quoteIdentifier(schema)}` } : {}),
  });
  // An idle client that loses its connection must not crash the process.
  pool.on('error', () => undefined);
  if (schema) await pool.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(schema)}`);
  return new PostgresDatabase(pool);
}

export function quoteIdentifier(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`invalid schema name ${name}`);
  return `"${name}"`;
}

function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

class PostgresExecutor implements SqlExecutor {
  readonly dialect = 'postgres' as const;
  constructor(protected readonly client: pg.Pool | pg.PoolClient) {}

  async all<T extends Row = Row>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> {
    const result = await this.client.query(numbered(sql), [...params]);
    return result.rows as T[];
  }

  async get<T extends Row = Row>(sql: string, params: readonly SqlValue[] = []): Promise<T | undefined> {
    const rows = await this.all<T>(sql, params);
    return rows[0];
  }

  async run(sql: string, params: readonly SqlValue[] = []): Promise<number> {
    const result = await this.client.query(numbered(sql), [...params]);
    return result.rowCount ?? 0;
  }
}

class PostgresDatabase extends PostgresExecutor implements Database {
  constructor(private readonly pool: pg.Pool) {
    super(pool);
  }

  async transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      // Same guarantee as SQLite's BEGIN IMMEDIATE: writers take turns, readers do not wait.
      await client.query('SELECT pg_advisory_xact_lock($1)', [WRITE_LOCK_KEY]);
      const value = await work(new PostgresExecutor(client));
      await client.query('COMMIT');
      return value;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  async exec(script: string): Promise<void> {
    await this.pool.query(script);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
