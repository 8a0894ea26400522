import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runTurnCommand } from '../../../../packages/cli/src/commands/turn.ts';
import { type Config, loadConfig } from '../../src/config/index.ts';
import { startCoturn } from '../../src/turn/coturn-process.ts';
import { turnIceServersFor } from '../../src/turn/credentials.ts';
import { TurnClient } from '../../src/turn/testing/turn-client.ts';
import { requireComponent } from '../support/env.ts';
import { coturnInstalled } from './fixture.ts';
import { freePort } from './ports.ts';

async function devConfig(
  t: { after: (fn: () => Promise<void>) => void },
  devMode: boolean,
  port = 3478,
): Promise<Config> {
  const dataDir = await mkdtemp(join(tmpdir(), 'conclave-turn-proc-'));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  return loadConfig({
    argv: [],
    env: {},
    cwd: dataDir,
    overrides: {
      dataDir,
      devMode,
      turn: {
        enabled: true,
        urls: [`turn:127.0.0.1:${port}`],
        listenPort: port,
        tlsListenPort: port + 1,
        spawn: true,
      },
    },
  });
}

test('startCoturn() runs coturn with the generated configuration until stop(), in development mode', async (t) => {
  if (!requireComponent(t, 'coturn (turnserver)', coturnInstalled)) return;
  const port = await freePort(false);
  const config = await devConfig(t, true, port);
  const configPath = join(config.dataDir, 'turnserver.conf');
  const coturn = await startCoturn(config, { configPath });
  try {
    assert.equal((await stat(configPath)).mode & 0o777, 0o600);
    // The server's own credentials (generated secret in dataDir) are accepted by the spawned coturn.
    const [server] = turnIceServersFor(config, {
      connectionId: 'c1',
      tokenExpiresAt: new Date(Date.now() + 60_000),
    });
    const client = await TurnClient.connect({ host: '127.0.0.1', port });
    t.after(() => client.close());
    const result = await client.allocate({
      username: server?.username ?? '',
      password: server?.credential ?? '',
    });
    assert.ok(result.ok, JSON.stringify(result));
  } finally {
    await coturn.stop();
  }
  assert.throws(() => process.kill(coturn.pid, 0), /ESRCH/);
});

test('startCoturn() refuses outside development mode', async (t) => {
  const config = await devConfig(t, false);
  await assert.rejects(startCoturn(config, { configPath: join(config.dataDir, 'x.conf') }), /development/);
});

test('conclave turn config prints the configuration, and --out writes it owner-only', async (t) => {
  const config = await devConfig(t, true);
  const out: string[] = [];
  const err: string[] = [];
  const io = { stdout: (s: string) => out.push(s), stderr: (s: string) => err.push(s) };
  assert.equal(await runTurnCommand(['config'], config, io), 0);
  const printed = out.join('');
  assert.match(printed, /^use-auth-secret$/m);
  assert.match(printed, /^denied-peer-ip=169\.254\.0\.0-169\.254\.255\.255$/m);
  const secret = (await readFile(join(config.dataDir, 'turn.secret'), 'utf8')).trim();
  assert.ok(printed.includes(`static-auth-secret=${secret}`));

  const file = join(config.dataDir, 'turnserver.conf');
  assert.equal(await runTurnCommand(['config', '--out', file], config, io), 0);
  assert.equal(await readFile(file, 'utf8'), printed);
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  assert.equal(await runTurnCommand(['config', '--bogus'], config, io), 2);
});
