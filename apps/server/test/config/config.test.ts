import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError, envNameOf, loadConfig, renderSampleConfig } from '../../src/config/index.ts';

const repoRoot = new URL('../../../../', import.meta.url).pathname;

test('defaults: loopback HTTP on 7880, SQLite in the data directory, development mode on', () => {
  const config = loadConfig({ argv: [], env: {}, cwd: '/srv' });
  assert.equal(config.server.host, '127.0.0.1');
  assert.equal(config.server.port, 7880);
  assert.equal(config.database.url, '');
  assert.equal(config.dataDir, '/srv/.conclave');
  assert.equal(config.masterKeyFile, '/srv/.conclave/master.key');
  assert.equal(config.devMode, true);
  assert.equal(config.tokens.maxLifetimeSeconds, 3600);
  assert.equal(config.secrets.rotationOverlapSeconds, 86400);
  assert.equal(config.audit.retentionDays, 180);
});

test('precedence: file < environment < flags', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'conclave-config-'));
  const file = join(dir, 'conclave.yaml');
  await writeFile(
    file,
    'server:\n  port: 9000\n  host: 127.0.0.2\nlog:\n  level: warn\naudit:\n  retentionDays: 30\n',
  );
  const config = loadConfig({
    argv: ['--config', file, '--port', '9002'],
    env: { CONCLAVE_SERVER_PORT: '9001', CONCLAVE_LOG_LEVEL: 'error' },
    cwd: dir,
  });
  assert.equal(config.server.port, 9002, 'flag wins');
  assert.equal(config.log.level, 'error', 'environment beats file');
  assert.equal(config.server.host, '127.0.0.2', 'file beats default');
  assert.equal(config.audit.retentionDays, 30);
  assert.equal(config.configFile, file);
});

test('environment names are CONCLAVE_ plus the key path in upper snake case', () => {
  assert.equal(envNameOf('server.tls.selfSigned'), 'CONCLAVE_SERVER_TLS_SELF_SIGNED');
  const config = loadConfig({
    env: { CONCLAVE_SERVER_TLS_SELF_SIGNED: 'true', CONCLAVE_TURN_URLS: 'turn:a:3478,turns:a:443' },
  });
  assert.equal(config.server.tls.selfSigned, true);
  assert.deepEqual(config.turn.urls, ['turn:a:3478', 'turns:a:443']);
});

test('development mode follows the listen address unless forced', () => {
  assert.equal(loadConfig({ argv: ['--host', '0.0.0.0'], env: {} }).devMode, false);
  assert.equal(loadConfig({ argv: ['--host', '::1'], env: {} }).devMode, true);
  assert.equal(loadConfig({ argv: ['--no-dev'], env: {} }).devMode, false);
  assert.equal(loadConfig({ argv: ['--host', '0.0.0.0', '--dev'], env: {} }).devMode, true);
});

test('validation names the bad key and where the value came from', () => {
  assert.throws(
    () => loadConfig({ env: { CONCLAVE_SERVER_PORT: '70000' } }),
    (err: Error) =>
      err instanceof ConfigError &&
      /server\.port/.test(err.message) &&
      /CONCLAVE_SERVER_PORT/.test(err.message),
  );
  assert.throws(
    () => loadConfig({ argv: ['--port', 'eighty'], env: {} }),
    (err: Error) => err instanceof ConfigError && /server\.port must be a number/.test(err.message),
  );
  assert.throws(() => loadConfig({ argv: ['--log-level', 'loud'], env: {} }), /log\.level/);
  assert.throws(
    () => loadConfig({ env: { CONCLAVE_SERVR_PORT: '1' } }),
    /Unknown environment variable CONCLAVE_SERVR_PORT/,
  );
  assert.throws(() => loadConfig({ argv: ['--prot', '1'], env: {} }), /Unknown flag --prot/);
});

test('an unknown key in the config file is named', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'conclave-config-'));
  const file = join(dir, 'c.yaml');
  await writeFile(file, 'server:\n  prot: 1\n');
  assert.throws(
    () => loadConfig({ argv: ['--config', file], env: {} }),
    (err: Error) => /server\.prot is not a configuration key \(from file /.test(err.message),
  );
  await writeFile(file, '__proto__:\n  polluted: true\n');
  assert.throws(() => loadConfig({ argv: ['--config', file], env: {} }), ConfigError);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test('conclave.example.yaml documents every key and matches the schema', async () => {
  const committed = await readFile(join(repoRoot, 'conclave.example.yaml'), 'utf8');
  assert.equal(
    committed,
    renderSampleConfig(),
    'regenerate conclave.example.yaml with `npm run config:sample`',
  );
  // The sample itself is a valid config file.
  const config = loadConfig({ argv: ['--config', join(repoRoot, 'conclave.example.yaml')], env: {} });
  assert.equal(config.server.port, 7880);
});
