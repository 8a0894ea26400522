/**
 * Boots the real server (bootTestServer: port 0, own temp dataDir) on SQLite or on a fresh
 * PostgreSQL database, captures everything it logs, and creates applications with the real
 * `conclave` CLI against the same store.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { TestContext } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import type { RunningServer } from '../../src/app.ts';
import type { ApplicationCredentials } from '../../src/control/types.ts';
import { requireComponent, testPgUrl } from '../support/env.ts';
import { bootTestServer } from '../support/server.ts';

const run = promisify(execFile);
const repoRoot = new URL('../../../../', import.meta.url).pathname;
const cliMain = join(repoRoot, 'packages/cli/src/main.ts');

export type Dialect = 'sqlite' | 'postgres';

export interface TestServer {
  server: RunningServer;
  url: string;
  dataDir: string;
  databaseUrl: string;
  /** Everything the server logged so far. */
  log(): string;
  /** With the real `conclave app create --json` (a child process: slow, so used once per run). */
  createAppWithCli(name: string): Promise<ApplicationCredentials>;
  /** Through the running server's control plane, as the CLI would. */
  createApp(name: string): Promise<ApplicationCredentials>;
}

export async function bootServer(
  t: TestContext,
  dialect: Dialect,
  options: { tlsSelfSigned?: boolean } = {},
): Promise<TestServer | null> {
  const databaseUrl = dialect === 'postgres' ? await freshPostgresDatabase(t) : '';
  if (databaseUrl === null) return null;
  let logged = '';
  const logStream = new Writable({
    write(chunk, _encoding, done) {
      logged += chunk.toString();
      done();
    },
  });
  const { server, dataDir, close } = await bootTestServer({
    name: 'rest',
    // Debug level, so the check that no secret is logged sees everything the server can log.
    argv: ['--log.level=debug', ...(options.tlsSelfSigned ? ['--tls-self-signed'] : [])],
    overrides: { database: { url: databaseUrl } },
    logStream,
  });
  t.after(close);
  return {
    server,
    url: server.url,
    dataDir,
    databaseUrl,
    log: () => logged,
    createApp: (name) => server.control.apps.create(name, { id: 'cli:test', source: 'local' }),
    createAppWithCli: async (name) => {
      const dbArgs = databaseUrl ? ['--database-url', databaseUrl] : [];
      const { stdout } = await run(
        process.execPath,
        ['--import', 'tsx', cliMain, 'app', 'create', name, '--json', '--data-dir', dataDir, ...dbArgs],
        { cwd: repoRoot, env: { ...process.env, CONCLAVE_MASTER_KEY: '' } },
      );
      return JSON.parse(stdout) as ApplicationCredentials;
    },
  };
}

/** A database of its own, dropped when the test ends; null (skipped) without PostgreSQL. */
async function freshPostgresDatabase(t: TestContext): Promise<string | null> {
  const admin = new pg.Client({ connectionString: testPgUrl, connectionTimeoutMillis: 2000 });
  try {
    await admin.connect();
  } catch {
    await admin.end().catch(() => undefined);
    requireComponent(t, 'PostgreSQL', false);
    return null;
  }
  const name = `conclave_rest_${process.pid}_${randomBytes(4).toString('hex')}`;
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  t.after(async () => {
    const dropper = new pg.Client({ connectionString: testPgUrl });
    await dropper.connect();
    await dropper.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await dropper.end();
  });
  const url = new URL(testPgUrl);
  url.pathname = `/${name}`;
  return url.toString();
}
