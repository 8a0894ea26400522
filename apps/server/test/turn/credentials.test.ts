import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  mintTurnCredentials,
  type TurnSettings,
  turnIceServersFor,
  turnSecret,
  turnSecretFile,
} from '../../src/turn/credentials.ts';

const urls = [
  'turn:turn.example.com:3478',
  'turn:turn.example.com:3478?transport=tcp',
  'turns:turn.example.com:443',
];
const now = Date.UTC(2026, 0, 1, 12, 0, 0);

function settings(overrides: Partial<TurnSettings['turn']> = {}, dataDir = '/nonexistent'): TurnSettings {
  return {
    dataDir,
    turn: { enabled: true, secret: 's3cret', urls, credentialTtlSeconds: 3600, ...overrides },
  };
}

test('mintTurnCredentials() gives coturn use-auth-secret credentials: expiry:id and base64 HMAC-SHA1', () => {
  const [server] = mintTurnCredentials({
    secret: 's3cret',
    identity: 'conn-1',
    ttlSeconds: 600,
    urls,
    nowMs: now,
  });
  assert.ok(server?.username && server.credential);
  assert.deepEqual(server.urls, urls);
  const [expiry, id] = server.username.split(':');
  assert.equal(Number(expiry), now / 1000 + 600);
  assert.ok(id && id.length >= 16);
  const expected = createHmac('sha1', 's3cret').update(server.username).digest('base64');
  assert.equal(server.credential, expected);
});

test('mintTurnCredentials() keeps the identity out of the username', () => {
  const identity = 'alice@example.com';
  const [server] = mintTurnCredentials({ secret: 's', identity, ttlSeconds: 60, urls, nowMs: now });
  assert.ok(!server?.username?.includes('alice'));
  const [again] = mintTurnCredentials({
    secret: 's',
    identity: 'bob@example.com',
    ttlSeconds: 60,
    urls,
    nowMs: now,
  });
  assert.notEqual(again?.username, server?.username);
});

test('turnIceServersFor() caps the credential lifetime at the token remaining life', () => {
  const tokenExpiresAt = new Date(now + 120_000).toISOString();
  const [server] = turnIceServersFor(settings(), { connectionId: 'c', tokenExpiresAt }, now);
  assert.equal(Number(server?.username?.split(':')[0]), now / 1000 + 120);
  const [long] = turnIceServersFor(
    settings(),
    { connectionId: 'c', tokenExpiresAt: new Date(now + 86_400_000) },
    now,
  );
  assert.equal(Number(long?.username?.split(':')[0]), now / 1000 + 3600);
});

test('turnIceServersFor() gives nothing when TURN is off, has no URLs, or the token has expired', () => {
  const who = { connectionId: 'c', tokenExpiresAt: new Date(now + 60_000) };
  assert.deepEqual(turnIceServersFor(settings({ enabled: false }), who, now), []);
  assert.deepEqual(turnIceServersFor(settings({ urls: [] }), who, now), []);
  assert.deepEqual(
    turnIceServersFor(settings(), { connectionId: 'c', tokenExpiresAt: new Date(now - 1000) }, now),
    [],
  );
  assert.deepEqual(
    turnIceServersFor(settings(), { connectionId: 'c', tokenExpiresAt: 'not a date' }, now),
    [],
  );
});

test('turnSecret() generates dataDir/turn.secret once, mode 0600, and keeps it', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'conclave-turn-secret-'));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const config = settings({ secret: '' }, dataDir);
  const secret = turnSecret(config);
  assert.match(secret, /^[0-9a-f]{64}$/);
  const file = turnSecretFile(config);
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  assert.equal((await readFile(file, 'utf8')).trim(), secret);
  assert.equal(turnSecret({ ...config }), secret);
  const [server] = turnIceServersFor(config, {
    connectionId: 'c',
    tokenExpiresAt: new Date(Date.now() + 60_000),
  });
  assert.equal(
    server?.credential,
    createHmac('sha1', secret)
      .update(server?.username ?? '')
      .digest('base64'),
  );
});

test('turnSecret() refuses a secret file that others can read', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'conclave-turn-secret-'));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const file = join(dataDir, 'turn.secret');
  await writeFile(file, 'abc\n');
  await chmod(file, 0o644);
  assert.throws(() => turnSecret(settings({ secret: '' }, dataDir)), /readable by group or others/);
});

test('turnIceServersFor() points a development server with --turn-spawn at its own coturn', () => {
  const who = { connectionId: 'c', tokenExpiresAt: new Date(now + 60_000) };
  const dev = { ...settings({ enabled: false, urls: [], spawn: true, listenPort: 3499 }), devMode: true };
  const [server] = turnIceServersFor(dev, who, now);
  assert.deepEqual(server?.urls, ['turn:127.0.0.1:3499?transport=udp', 'turn:127.0.0.1:3499?transport=tcp']);
  assert.deepEqual(turnIceServersFor({ ...dev, devMode: false }, who, now), []);
});
