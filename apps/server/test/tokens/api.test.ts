import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ReplayCache, verifyApiToken } from '../../src/control/tokens/index.ts';
import { b64, forge, InMemoryControl, NOW, NOW_MS, participantClaims } from './support.ts';

const control = new InMemoryControl();
const app = control.addSecretApp('rest');
const edApp = control.addKeyApp('rest-ed', 'EdDSA');
control.addSession(app.appId, 'ses_rest');
const HS = { alg: 'HS256', typ: 'JWT' };
let counter = 0;

function restClaims(extra: Record<string, unknown> = {}) {
  counter += 1;
  return { iss: app.apiKey, iat: NOW, exp: NOW + 60, jti: `jti-${counter}`, ...extra };
}

function deps(replay = new ReplayCache()) {
  return { apps: control.deps().apps, tokens: { clockSkewSeconds: 30 }, replay, now: () => NOW_MS };
}

function refused(token: string, code: string, d = deps()) {
  return assert.rejects(verifyApiToken(token, d), (err: { code?: string }) => {
    assert.equal(err.code, code);
    return true;
  });
}

describe('verifyApiToken()', () => {
  test('accepts a fresh HS256 REST JWT and names its application', async () => {
    const verified = await verifyApiToken(forge(HS, restClaims(), { hmac: app.secret }), deps());
    assert.equal(verified.appId, app.appId);
    assert.equal(verified.apiKey, app.apiKey);
  });

  test('accepts an EdDSA REST JWT from an application with a registered key', async () => {
    const token = forge(
      { alg: 'EdDSA' },
      { ...restClaims(), iss: edApp.apiKey },
      { ed25519: edApp.privateKey },
    );
    assert.equal((await verifyApiToken(token, deps())).appId, edApp.appId);
  });

  test('refuses the same JWT a second time (replayed jti)', async () => {
    const d = deps();
    const token = forge(HS, restClaims(), { hmac: app.secret });
    await verifyApiToken(token, d);
    await refused(token, 'token_revoked', d);
  });

  test('refuses a JWT expiring more than 5 minutes ahead', () =>
    refused(forge(HS, restClaims({ exp: NOW + 300 + 31 }), { hmac: app.secret }), 'token_lifetime_too_long'));

  test('accepts a JWT expiring exactly 5 minutes ahead', async () => {
    await verifyApiToken(forge(HS, restClaims({ exp: NOW + 300 }), { hmac: app.secret }), deps());
  });

  test('refuses an expired JWT', () =>
    refused(forge(HS, restClaims({ iat: NOW - 120, exp: NOW - 60 }), { hmac: app.secret }), 'token_expired'));

  test('refuses a JWT issued in the future beyond the clock skew', () =>
    refused(
      forge(HS, restClaims({ iat: NOW + 60, exp: NOW + 120 }), { hmac: app.secret }),
      'token_not_yet_valid',
    ));

  test('refuses a JWT without jti, iat or exp', async () => {
    for (const missing of ['jti', 'iat', 'exp']) {
      await refused(forge(HS, restClaims({ [missing]: undefined }), { hmac: app.secret }), 'token_invalid');
    }
  });

  test('refuses a participant token, which browsers hold, as a REST credential', () => {
    const claims = participantClaims(app.apiKey, 'ses_rest', { exp: NOW + 60 });
    return refused(forge(HS, claims, { hmac: app.secret }), 'token_invalid');
  });

  test('refuses alg none', () =>
    refused(
      `${b64(JSON.stringify({ alg: 'none' }))}.${b64(JSON.stringify(restClaims()))}.`,
      'token_algorithm_refused',
    ));

  test('refuses a JWT signed with a wrong secret', () =>
    refused(forge(HS, restClaims(), { hmac: 'not-the-secret' }), 'token_invalid'));
});

describe('ReplayCache', () => {
  test('refuses new tokens when full of live entries, and accepts again once they expire', () => {
    const cache = new ReplayCache(2);
    assert.equal(cache.remember('k', 'a', NOW + 60, NOW), true);
    assert.equal(cache.remember('k', 'b', NOW + 60, NOW), true);
    assert.equal(cache.remember('k', 'c', NOW + 60, NOW), false, 'full: fail closed, never evict a live jti');
    assert.equal(cache.remember('k', 'c', NOW + 200, NOW + 61), true, 'expired entries were swept');
    assert.equal(cache.size, 1);
  });

  test('scopes jti per API key', () => {
    const cache = new ReplayCache();
    assert.equal(cache.remember('k1', 'same', NOW + 60, NOW), true);
    assert.equal(cache.remember('k2', 'same', NOW + 60, NOW), true);
    assert.equal(cache.remember('k1', 'same', NOW + 60, NOW), false);
  });
});
