import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadMasterKey, MasterKeyError } from '../../src/control/crypto/master-key.ts';
import { type ControlPlaneConfig, openControlPlane } from '../../src/control/index.ts';
import { OPERATOR } from './support.ts';

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'conclave-key-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function configFor(dataDir: string, masterKeyFile = ''): ControlPlaneConfig {
  return {
    dataDir,
    database: { url: '' },
    masterKeyFile,
    tokens: { maxLifetimeSeconds: 3600 },
    secrets: { rotationOverlapSeconds: 86400 },
    audit: { retentionDays: 180 },
  };
}

test('openControlPlane() generates the master key file 0600 inside a 0700 data directory', async (t) => {
  const parent = await tempDir(t);
  const dataDir = join(parent, 'data');
  const control = await openControlPlane(configFor(dataDir), { env: {} });
  await control.close();
  assert.equal((await stat(dataDir)).mode & 0o777, 0o700);
  const keyFile = join(dataDir, 'master.key');
  assert.equal((await stat(keyFile)).mode & 0o777, 0o600);
  assert.equal(Buffer.from((await readFile(keyFile, 'utf8')).trim(), 'base64').length, 32);
  assert.equal((await stat(join(dataDir, 'conclave.db'))).mode & 0o777, 0o600);
});

test('a master key file readable by group or others is refused, naming the file and the fix', async (t) => {
  const dataDir = await tempDir(t);
  const keyFile = join(dataDir, 'master.key');
  await writeFile(keyFile, randomBytes(32).toString('base64'), { mode: 0o600 });
  for (const mode of [0o644, 0o640, 0o604]) {
    await chmod(keyFile, mode);
    await assert.rejects(openControlPlane(configFor(dataDir), { env: {} }), (err: Error) => {
      assert.ok(err instanceof MasterKeyError);
      assert.ok(err.message.includes(keyFile), 'names the file');
      assert.ok(err.message.includes(`chmod 600 ${keyFile}`), 'says how to fix it');
      return true;
    });
  }
  await chmod(keyFile, 0o600);
  const control = await openControlPlane(configFor(dataDir), { env: {} });
  await control.close();
});

test('CONCLAVE_MASTER_KEY (hex or base64) takes precedence over the key file; malformed values are refused', async (t) => {
  const dataDir = await tempDir(t);
  const key = randomBytes(32);
  const fromHex = await openControlPlane(configFor(dataDir), {
    env: { CONCLAVE_MASTER_KEY: key.toString('hex') },
  });
  const created = await fromHex.apps.create('shop', OPERATOR);
  await fromHex.close();
  await assert.rejects(
    stat(join(dataDir, 'master.key')),
    { code: 'ENOENT' },
    'no key file when the env gives one',
  );

  const fromBase64 = await openControlPlane(configFor(dataDir), {
    env: { CONCLAVE_MASTER_KEY: key.toString('base64') },
  });
  const keys = await fromBase64.apps.verificationKeys(created.apiKey);
  assert.equal(keys?.secrets[0]?.toString('utf8'), created.apiSecret, 'the same key in either encoding');
  await fromBase64.close();

  // Another key cannot read the secrets: a clear error, never a wrong secret.
  const wrong = await openControlPlane(configFor(dataDir), { env: { CONCLAVE_MASTER_KEY: 'ab'.repeat(32) } });
  await assert.rejects(wrong.apps.verificationKeys(created.apiKey), /master key differs/);
  await wrong.close();

  for (const bad of ['short', 'zz'.repeat(32), randomBytes(16).toString('base64')]) {
    await assert.rejects(loadMasterKey({ envValue: bad, file: join(dataDir, 'unused') }), MasterKeyError);
  }
});

test('a configured masterKeyFile outside the data directory is used and created there', async (t) => {
  const dataDir = await tempDir(t);
  const elsewhere = await tempDir(t);
  const keyFile = join(elsewhere, 'keys', 'conclave.key');
  const control = await openControlPlane(configFor(dataDir, keyFile), { env: {} });
  await control.close();
  assert.equal((await stat(keyFile)).mode & 0o777, 0o600);
  await assert.rejects(stat(join(dataDir, 'master.key')), { code: 'ENOENT' });
});
