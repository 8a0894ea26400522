/**
 * The `conclave` operator CLI, run as a real subprocess (bin/conclave.mjs) against a temporary
 * data directory, the way an operator runs it on the server machine.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { openControlPlane } from '@conclave/server/control/index';
import Sqlite from 'better-sqlite3';

const bin = new URL('../bin/conclave.mjs', import.meta.url).pathname;

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** The environment without any CONCLAVE_* variable of the machine running the tests. */
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CONCLAVE_')));

function conclave(dataDir: string, ...args: string[]): Promise<Result> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [bin, ...args, '--data-dir', dataDir],
      { env: cleanEnv, cwd: dirname(dataDir), timeout: 30_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

async function dataDirFor(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'conclave-cli-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return join(dir, 'data');
}

/** An expected failure: non-zero exit, one line on stderr, no stack trace. */
function assertOneLineError(result: Result, message: RegExp): void {
  assert.notEqual(result.code, 0);
  assert.match(result.stderr, message);
  assert.equal(result.stderr.trim().split('\n').length, 1, `one line, got: ${result.stderr}`);
  assert.doesNotMatch(result.stderr, /\n\s+at /);
}

test('conclave app create --json prints exactly {appId, apiKey, apiSecret}, then list, rotate-secret and delete', async (t) => {
  const dataDir = await dataDirFor(t);
  const created = await conclave(dataDir, 'app', 'create', 'shop', '--json');
  assert.equal(created.code, 0, created.stderr);
  const credentials = JSON.parse(created.stdout) as Record<string, string>;
  assert.deepEqual(Object.keys(credentials).sort(), ['apiKey', 'apiSecret', 'appId']);
  assert.match(credentials.appId ?? '', /^app_/);
  assert.match(credentials.apiKey ?? '', /^ck_/);
  assert.equal(Buffer.from(credentials.apiSecret ?? '', 'base64url').length, 32);
  assert.match(created.stderr, /shown only this once/);

  const listed = await conclave(dataDir, 'app', 'list', '--json');
  assert.equal(listed.code, 0, listed.stderr);
  const apps = JSON.parse(listed.stdout) as { appId: string; name: string; apiKey: string }[];
  assert.deepEqual(
    apps.map((a) => [a.name, a.appId, a.apiKey]),
    [['shop', credentials.appId, credentials.apiKey]],
  );
  const human = await conclave(dataDir, 'app', 'list');
  assert.match(human.stdout, /shop\s+app_\S+\s+ck_\S+\s+HS256/);
  for (const output of [listed.stdout, human.stdout]) {
    assert.ok(!output.includes(credentials.apiSecret ?? '-'), 'list never shows a secret');
  }

  const rotated = await conclave(dataDir, 'app', 'rotate-secret', 'shop', '--overlap', '60', '--json');
  assert.equal(rotated.code, 0, rotated.stderr);
  const next = JSON.parse(rotated.stdout) as Record<string, string>;
  assert.equal(next.apiKey, credentials.apiKey);
  assert.notEqual(next.apiSecret, credentials.apiSecret);
  assert.ok(!rotated.stdout.includes(credentials.apiSecret ?? '-'), 'the old secret is not shown again');
  const overlapEnd = Date.parse(next.previousSecretValidUntil ?? '');
  assert.ok(Math.abs(overlapEnd - (Date.now() + 60_000)) < 20_000, 'old secret valid for the overlap');

  const deleted = await conclave(dataDir, 'app', 'delete', credentials.apiKey ?? '');
  assert.equal(deleted.code, 0, deleted.stderr);
  assert.match(deleted.stdout, /Deleted application shop/);
  assert.deepEqual(JSON.parse((await conclave(dataDir, 'app', 'list', '--json')).stdout), []);

  const audit = await conclave(dataDir, 'audit', 'list', '--json');
  const actions = (JSON.parse(audit.stdout) as { action: string; actor: string; source: string }[]).map(
    (e) => [e.action, e.actor, e.source],
  );
  const me = `cli:${userInfo().username}`;
  assert.deepEqual(actions, [
    ['app.deleted', me, 'local'],
    ['app.secret_rotated', me, 'local'],
    ['app.created', me, 'local'],
  ]);
});

test('conclave app set-public-key registers an Ed25519 key and refuses an RSA key', async (t) => {
  const dataDir = await dataDirFor(t);
  assert.equal((await conclave(dataDir, 'app', 'create', 'signer')).code, 0);
  const pemFile = join(dataDir, 'signer.pub.pem');
  await writeFile(
    pemFile,
    generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  );
  const ok = await conclave(dataDir, 'app', 'set-public-key', 'signer', '--file', pemFile);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /EdDSA public key/);
  assert.match((await conclave(dataDir, 'app', 'list')).stdout, /signer\s+\S+\s+\S+\s+EdDSA/);

  const rsaFile = join(dataDir, 'rsa.pub.pem');
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
  await writeFile(rsaFile, rsa.export({ type: 'spki', format: 'pem' }).toString());
  assertOneLineError(
    await conclave(dataDir, 'app', 'set-public-key', 'signer', '--file', rsaFile),
    /Ed25519 \(EdDSA\) and P-256/,
  );
});

test('conclave audit verify exits 0 on an intact chain and 1 naming a record altered by SQL', async (t) => {
  const dataDir = await dataDirFor(t);
  const control = await openControlPlane(
    {
      dataDir,
      database: { url: '' },
      masterKeyFile: '',
      tokens: { maxLifetimeSeconds: 3600 },
      secrets: { rotationOverlapSeconds: 86400 },
      audit: { retentionDays: 180 },
    },
    { env: {} },
  );
  const actor = { id: 'cli:tester', source: 'local' };
  for (const name of ['a1', 'a2', 'a3', 'a4']) await control.apps.create(name, actor);
  await control.close();

  const intact = await conclave(dataDir, 'audit', 'verify');
  assert.equal(intact.code, 0, intact.stderr);
  assert.match(intact.stdout, /intact: 4 records/);

  const db = new Sqlite(join(dataDir, 'conclave.db'));
  db.prepare("UPDATE audit_records SET source = '203.0.113.9' WHERE seq = 3").run();
  db.close();
  const altered = await conclave(dataDir, 'audit', 'verify');
  assert.equal(altered.code, 1);
  assert.match(altered.stdout, /BROKEN at record 3\b/);

  const db2 = new Sqlite(join(dataDir, 'conclave.db'));
  db2.prepare("UPDATE audit_records SET source = 'local' WHERE seq = 3").run();
  db2.prepare('DELETE FROM audit_records WHERE seq = 2').run();
  db2.close();
  const removed = await conclave(dataDir, 'audit', 'verify');
  assert.equal(removed.code, 1);
  assert.match(removed.stdout, /BROKEN at record 3\b.*record 2 .*missing/);
});

test('conclave --help and every command --help exit 0; unknown commands and bad usage exit non-zero', async (t) => {
  const dataDir = await dataDirFor(t);
  for (const args of [
    ['--help'],
    ['help'],
    ['app', 'create', '--help'],
    ['audit', 'verify', '-h'],
    ['help', 'app', 'rotate-secret'],
  ]) {
    const result = await conclave(dataDir, ...args);
    assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stdout, /Usage: conclave/);
  }
  assert.match((await conclave(dataDir, 'app', 'rotate-secret', '--help')).stdout, /--overlap SECONDS/);

  assertOneLineError(await conclave(dataDir, 'frobnicate'), /Unknown command 'frobnicate'/);
  assertOneLineError(await conclave(dataDir, 'app', 'explode'), /Unknown command 'app explode'/);
  assertOneLineError(await conclave(dataDir, 'app', 'create'), /Usage: conclave app create NAME/);
  assertOneLineError(
    await conclave(dataDir, 'app', 'create', 'x', '--colour', 'red'),
    /Unknown option --colour/,
  );
  assertOneLineError(await conclave(dataDir, 'app', 'delete', 'nobody'), /Application not found/);
});

test('conclave refuses a master key file readable by others, with a one-line fix', async (t) => {
  const dataDir = await dataDirFor(t);
  assert.equal((await conclave(dataDir, 'app', 'list')).code, 0);
  const keyFile = join(dataDir, 'master.key');
  await chmod(keyFile, 0o644);
  assertOneLineError(await conclave(dataDir, 'app', 'list'), new RegExp(`chmod 600 ${keyFile}`));
});
