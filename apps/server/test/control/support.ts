/**
 * Control-plane test fixtures: a fresh control plane on SQLite (own temp dir) or PostgreSQL
 * (own schema, dropped afterwards), with a clock the test moves by hand.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import pg from 'pg';
import { type ControlPlaneConfig, openControlPlane } from '../../src/control/index.ts';
import type { Actor, ControlPlane } from '../../src/control/types.ts';
import { requireComponent, testPgUrl } from '../support/env.ts';

export type Dialect = 'sqlite' | 'postgres';
export const DIALECTS: readonly Dialect[] = ['sqlite', 'postgres'];

export const OPERATOR: Actor = { id: 'cli:tester', source: 'local' };

/** A clock starting at a fixed instant; `advance` moves it forward. */
export function manualClock(start = Date.UTC(2026, 0, 1)) {
  let now = start;
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

let pgReachable: Promise<boolean> | undefined;
export function postgresReachable(): Promise<boolean> {
  pgReachable ??= (async () => {
    const client = new pg.Client({ connectionString: testPgUrl, connectionTimeoutMillis: 2000 });
    try {
      await client.connect();
      return true;
    } catch {
      return false;
    } finally {
      await client.end().catch(() => undefined);
    }
  })();
  return pgReachable;
}

export interface TestControlPlane {
  control: ControlPlane;
  config: ControlPlaneConfig;
  dataDir: string;
  /** PostgreSQL schema of this test (postgres only). */
  schema: string | null;
  /** Runs SQL directly against this test's store, outside the services (to tamper with it). */
  sql(text: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  /** Opens a second control plane on the same store (e.g. to check migrations re-run cleanly). */
  reopen(): Promise<ControlPlane>;
}

/**
 * Returns null (and skips the test) when the dialect's database is missing; fails in CI.
 * Everything opened is closed and removed when the test ends.
 */
export async function openTestControlPlane(
  t: TestContext,
  dialect: Dialect,
  options: { now?: () => number; config?: Partial<ControlPlaneConfig>; auditPruneIntervalMs?: number } = {},
): Promise<TestControlPlane | null> {
  if (dialect === 'postgres' && !requireComponent(t, 'PostgreSQL', await postgresReachable())) return null;
  const dataDir = await mkdtemp(join(tmpdir(), 'conclave-control-'));
  const schema = dialect === 'postgres' ? `t_control_${process.pid}_${randomBytes(6).toString('hex')}` : null;
  const config: ControlPlaneConfig = {
    dataDir,
    database: { url: dialect === 'postgres' ? testPgUrl : '' },
    masterKeyFile: '',
    tokens: { maxLifetimeSeconds: 3600, clockSkewSeconds: 30 },
    secrets: { rotationOverlapSeconds: 86400 },
    audit: { retentionDays: 180 },
    ...options.config,
  };
  const open = () =>
    openControlPlane(config, {
      env: {},
      auditPruneIntervalMs: options.auditPruneIntervalMs ?? 0,
      ...(options.now ? { now: options.now } : {}),
      ...(schema ? { postgresSchema: schema } : {}),
    });
  const opened: ControlPlane[] = [];
  const control = await open();
  opened.push(control);
  const raw = await rawSql(dialect, dataDir, schema);
  t.after(async () => {
    for (const plane of opened) await plane.close();
    await raw.close(schema);
    await rm(dataDir, { recursive: true, force: true });
  });
  return {
    control,
    config,
    dataDir,
    schema,
    sql: raw.query,
    reopen: async () => {
      const again = await open();
      opened.push(again);
      return again;
    },
  };
}

interface RawSql {
  query(text: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  close(schema: string | null): Promise<void>;
}

async function rawSql(dialect: Dialect, dataDir: string, schema: string | null): Promise<RawSql> {
  if (dialect === 'sqlite') {
    const { default: Sqlite } = await import('better-sqlite3');
    const db = new Sqlite(join(dataDir, 'conclave.db'));
    return {
      query: async (text, params = []) => {
        const statement = db.prepare(text);
        if (statement.reader) return statement.all(...params) as Record<string, unknown>[];
        statement.run(...params);
        return [];
      },
      close: async () => {
        db.close();
      },
    };
  }
  const client = new pg.Client({ connectionString: testPgUrl });
  await client.connect();
  await client.query(`SET search_path TO "${schema}"`);
  return {
    query: async (text, params = []) => {
      let n = 0;
      const numbered = text.replace(/\?/g, () => `$${++n}`);
      return (await client.query(numbered, params)).rows;
    },
    close: async (name) => {
      await client.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`);
      await client.end();
    },
  };
}
