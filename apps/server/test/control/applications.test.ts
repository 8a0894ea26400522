import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { test } from 'node:test';
import { ConclaveError } from '@conclave/protocol/errors';
import { DIALECTS, manualClock, OPERATOR, openTestControlPlane } from './support.ts';

const HOUR = 3_600_000;

function pemOf(type: 'ed25519' | 'rsa' | 'ec', curve?: string) {
  const pair =
    type === 'ec'
      ? generateKeyPairSync('ec', { namedCurve: curve ?? 'P-256' })
      : type === 'rsa'
        ? generateKeyPairSync('rsa', { modulusLength: 2048 })
        : generateKeyPairSync('ed25519');
  return {
    publicPem: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privatePem: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

for (const dialect of DIALECTS) {
  test(`${dialect}: apps.create() returns a 256-bit secret once and the app is found by id, key or name`, async (t) => {
    const h = await openTestControlPlane(t, dialect);
    if (!h) return;
    const created = await h.control.apps.create('shop', OPERATOR);
    assert.match(created.appId, /^app_[A-Za-z0-9_-]{16}$/);
    assert.match(created.apiKey, /^ck_[A-Za-z0-9_-]{24}$/);
    assert.equal(Buffer.from(created.apiSecret, 'base64url').length, 32);

    for (const ref of [created.appId, created.apiKey, 'shop']) {
      const found = await h.control.apps.find(ref);
      assert.equal(found?.appId, created.appId, `found by ${ref}`);
      assert.equal(found?.publicKey, null);
      assert.ok(!JSON.stringify(found).includes(created.apiSecret), 'find() never carries the secret');
    }
    assert.equal(await h.control.apps.find('nope'), null);
    const listed = await h.control.apps.list();
    assert.deepEqual(
      listed.map((a) => a.name),
      ['shop'],
    );
    assert.ok(!JSON.stringify(listed).includes(created.apiSecret));

    const keys = await h.control.apps.verificationKeys(created.apiKey);
    assert.deepEqual(
      keys?.secrets.map((s) => s.toString('utf8')),
      [created.apiSecret],
    );
    assert.equal(await h.control.apps.verificationKeys('ck_unknown'), null);
  });

  test(`${dialect}: apps.create() refuses a duplicate name with 'conflict' and a malformed one with 'invalid_request'`, async (t) => {
    const h = await openTestControlPlane(t, dialect);
    if (!h) return;
    await h.control.apps.create('shop', OPERATOR);
    await assert.rejects(h.control.apps.create('shop', OPERATOR), { code: 'conflict' });
    for (const bad of ['', 'has space', 'app_lookalike', 'ck_lookalike', 'x'.repeat(101)]) {
      await assert.rejects(h.control.apps.create(bad, OPERATOR), { code: 'invalid_request' }, bad);
    }
    assert.equal((await h.control.apps.list()).length, 1);
  });

  test(`${dialect}: apps.rotateSecret() keeps the old secret verifying until the overlap ends, then drops it`, async (t) => {
    const clock = manualClock();
    const h = await openTestControlPlane(t, dialect, { now: clock.now });
    if (!h) return;
    const first = await h.control.apps.create('shop', OPERATOR);
    const second = await h.control.apps.rotateSecret('shop', OPERATOR, 3600);
    assert.equal(second.apiKey, first.apiKey);
    assert.notEqual(second.apiSecret, first.apiSecret);

    const secretsNow = async () =>
      (await h.control.apps.verificationKeys(first.apiKey))?.secrets.map((s) => s.toString('utf8'));
    assert.deepEqual(
      await secretsNow(),
      [second.apiSecret, first.apiSecret],
      'current first, then overlapping',
    );
    clock.advance(HOUR - 1);
    assert.deepEqual(await secretsNow(), [second.apiSecret, first.apiSecret]);
    clock.advance(1);
    assert.deepEqual(
      await secretsNow(),
      [second.apiSecret],
      'the old secret stops at the end of the overlap',
    );
  });

  test(`${dialect}: apps.rotateSecret() defaults to the configured overlap; 0 ends the old secret at once`, async (t) => {
    const clock = manualClock();
    const h = await openTestControlPlane(t, dialect, {
      now: clock.now,
      config: { secrets: { rotationOverlapSeconds: 120 } },
    });
    if (!h) return;
    const first = await h.control.apps.create('shop', OPERATOR);
    await h.control.apps.rotateSecret(first.appId, OPERATOR);
    clock.advance(119_000);
    assert.equal((await h.control.apps.verificationKeys(first.apiKey))?.secrets.length, 2);
    clock.advance(1000);
    assert.equal((await h.control.apps.verificationKeys(first.apiKey))?.secrets.length, 1);

    const third = await h.control.apps.rotateSecret(first.appId, OPERATOR, 0);
    const keys = await h.control.apps.verificationKeys(first.apiKey);
    assert.deepEqual(
      keys?.secrets.map((s) => s.toString('utf8')),
      [third.apiSecret],
    );
    await assert.rejects(h.control.apps.rotateSecret('missing', OPERATOR), { code: 'not_found' });
  });

  test(`${dialect}: apps.setPublicKey() accepts Ed25519 and P-256, then only the public key verifies`, async (t) => {
    const h = await openTestControlPlane(t, dialect);
    if (!h) return;
    const ed = await h.control.apps.create('ed-app', OPERATOR);
    const ec = await h.control.apps.create('ec-app', OPERATOR);

    const edApp = await h.control.apps.setPublicKey('ed-app', pemOf('ed25519').publicPem, OPERATOR);
    assert.equal(edApp.publicKey?.algorithm, 'EdDSA');
    const ecApp = await h.control.apps.setPublicKey(ec.apiKey, pemOf('ec', 'P-256').publicPem, OPERATOR);
    assert.equal(ecApp.publicKey?.algorithm, 'ES256');

    const edKeys = await h.control.apps.verificationKeys(ed.apiKey);
    assert.deepEqual(edKeys?.secrets, [], 'no shared secret once a public key is registered');
    assert.equal(edKeys?.publicKey?.algorithm, 'EdDSA');
    assert.equal(edKeys?.publicKey?.key.asymmetricKeyType, 'ed25519');
    assert.equal(edKeys?.publicKey?.key.type, 'public');
    const ecKeys = await h.control.apps.verificationKeys(ec.apiKey);
    assert.equal(ecKeys?.publicKey?.algorithm, 'ES256');
    assert.equal(ecKeys?.publicKey?.key.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  });

  test(`${dialect}: apps.setPublicKey() refuses RSA, other curves, private keys and garbage`, async (t) => {
    const h = await openTestControlPlane(t, dialect);
    if (!h) return;
    const app = await h.control.apps.create('shop', OPERATOR);
    const refused: [string, string, RegExp][] = [
      ['RSA', pemOf('rsa').publicPem, /Ed25519.*P-256/],
      ['P-384', pemOf('ec', 'P-384').publicPem, /P-256/],
      ['Ed25519 private key', pemOf('ed25519').privatePem, /private key/i],
      ['P-256 private key', pemOf('ec', 'P-256').privatePem, /private key/i],
      ['garbage', '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n', /could not be parsed/],
      ['not PEM', 'hello', /BEGIN PUBLIC KEY/],
    ];
    for (const [what, pem, message] of refused) {
      await assert.rejects(
        h.control.apps.setPublicKey('shop', pem, OPERATOR),
        (err: unknown) =>
          err instanceof ConclaveError && err.code === 'invalid_request' && message.test(err.message),
        what,
      );
    }
    const keys = await h.control.apps.verificationKeys(app.apiKey);
    assert.equal(keys?.publicKey, null, 'a refused key leaves the shared secret in force');
    assert.equal(keys?.secrets.length, 1);
  });

  test(`${dialect}: apps.delete() removes the application, its secrets and its sessions`, async (t) => {
    const h = await openTestControlPlane(t, dialect);
    if (!h) return;
    const gone = await h.control.apps.create('gone', OPERATOR);
    const kept = await h.control.apps.create('kept', OPERATOR);
    const session = await h.control.sessions.create(gone.appId, { name: 'room' }, OPERATOR);
    await h.control.revocations.revoke(gone.appId, session.id, { identity: 'bob' }, OPERATOR);
    await h.control.apps.rotateSecret('gone', OPERATOR);

    await h.control.apps.delete(gone.apiKey, OPERATOR);
    assert.equal(await h.control.apps.find(gone.appId), null);
    assert.equal(await h.control.apps.verificationKeys(gone.apiKey), null);
    assert.equal(await h.control.sessions.get(gone.appId, session.id), null);
    for (const table of ['app_secrets', 'sessions', 'token_revocations']) {
      const rows = await h.sql(
        `SELECT COUNT(*) AS n FROM ${table} WHERE ${table === 'token_revocations' ? 'session_id' : 'app_id'} = ?`,
        [table === 'token_revocations' ? session.id : gone.appId],
      );
      assert.equal(Number(rows[0]?.n), 0, `${table} rows of the deleted app`);
    }
    assert.ok(await h.control.apps.find(kept.appId), 'other applications are untouched');
    await assert.rejects(h.control.apps.delete('gone', OPERATOR), { code: 'not_found' });
  });
}
