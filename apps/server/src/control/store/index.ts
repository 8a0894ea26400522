/** Opens the store the configuration selects and brings its schema up to date. */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Database } from './database.ts';
import { migrate } from './migrations.ts';
import { openPostgres } from './postgres.ts';
import { openSqlite } from './sqlite.ts';

export type { Database, Dialect, SqlExecutor } from './database.ts';

export interface StoreConfig {
  dataDir: string;
  database: { url: string };
}

export interface OpenStoreOptions {
  /** PostgreSQL schema to use instead of the URL's default (tests isolate themselves so). */
  postgresSchema?: string;
}

export function isPostgresUrl(url: string): boolean {
  return url.startsWith('postgres://') || url.startsWith('postgresql://');
}

export async function openStore(config: StoreConfig, options: OpenStoreOptions = {}): Promise<Database> {
  const db = await connect(config, options);
  try {
    await migrate(db);
  } catch (err) {
    await db.close().catch(() => undefined);
    throw err;
  }
  return db;
}

async function connect(config: StoreConfig, options: OpenStoreOptions): Promise<Database> {
  const url = config.database.url;
  if (isPostgresUrl(url)) {
    return openPostgres(url, options.postgresSchema ? { schema: options.postgresSchema } : {});
  }
  if (url !== '') throw new Error('database.url must be empty (SQLite) or a postgres:// URL');
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  return openSqlite(join(config.dataDir, 'conclave.db'));
}
