import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { Conclave, ConclaveApiError } from '@conclave/server-sdk';
import { verifyParticipantToken } from '../../src/control/tokens/index.ts';
import { bootServer, type Dialect } from './support.ts';

const UNAUTHORIZED = '{"error":{"code":"unauthorized","message":"Authentication failed"}}';
const SESSION_KEYS = [
  'archiveMode',
  'createdAt',
  'e2ee',
  'id',
  'maxParticipants',
  'mediaMode',
  'metadata',
  'name',
  'region',
];

function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function hs256(
  claims: Record<string, unknown>,
  secret: string,
  header: Record<string, unknown> = { alg: 'HS256', typ: 'JWT' },
) {
  const input = `${b64(header)}.${b64(claims)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

function restClaims(apiKey: string, extra: Record<string, unknown> = {}) {
  const now = Math.floor(Date.now() / 1000);
  return { iss: apiKey, iat: now, exp: now + 60, jti: randomBytes(16).toString('base64url'), ...extra };
}

async function expectApiError(promise: Promise<unknown>, code: string, status: number) {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof ConclaveApiError, String(err));
    assert.equal(err.code, code);
    assert.equal(err.status, status);
    return true;
  });
}

for (const dialect of ['sqlite', 'postgres'] as Dialect[]) {
  test(`REST API v1 and the server SDK over HTTP (${dialect})`, { timeout: 120_000 }, async (t) => {
    const booted = await bootServer(t, dialect);
    if (!booted) return;
    const { url, server } = booted;
    const [appA, appB] = await Promise.all([booted.createAppWithCli('alpha'), booted.createApp('beta')]);
    const alpha = new Conclave({ url, apiKey: appA.apiKey, apiSecret: appA.apiSecret });
    const beta = new Conclave({ url, apiKey: appB.apiKey, apiSecret: appB.apiSecret });
    const verifierDeps = { ...server.control, tokens: server.config.tokens };

    const created = await alpha.createSession({
      name: 'standup',
      mediaMode: 'routed',
      maxParticipants: 8,
      metadata: 'm-1',
    });

    await t.test('createSession / getSession / listSessions', async () => {
      assert.match(created.id, /^[A-Za-z0-9_-]{22,}$/);
      assert.deepEqual(Object.keys(created).sort(), SESSION_KEYS, 'only the documented fields');
      assert.equal(created.name, 'standup');
      assert.equal(created.e2ee, false, 'defaults applied');
      assert.equal(created.archiveMode, 'manual');
      assert.deepEqual(await alpha.getSession(created.id), created);
      const second = await alpha.createSession();
      const page1 = await alpha.listSessions({ limit: 1 });
      assert.equal(page1.sessions.length, 1);
      assert.ok(page1.nextCursor);
      const page2 = await alpha.listSessions({ limit: 1, cursor: page1.nextCursor });
      assert.deepEqual([page1.sessions[0]?.id, page2.sessions[0]?.id].sort(), [created.id, second.id].sort());
      const byName = await alpha.listSessions({ name: 'standup' });
      assert.deepEqual(
        byName.sessions.map((s) => s.id),
        [created.id],
      );
    });

    await t.test('a token minted by the SDK verifies with verifyParticipantToken', async () => {
      const token = alpha.createToken(created.id, { identity: 'alice', role: 'moderator', data: 'seat 1' });
      const verified = await verifyParticipantToken(token, { sessionId: created.id }, verifierDeps);
      assert.equal(verified.appId, appA.appId);
      assert.equal(verified.claims.sub, 'alice');
      assert.equal(verified.claims.exp - verified.claims.iat, 600, 'default lifetime 10 minutes');
      assert.equal(verified.claims.nbf, verified.claims.iat);
      assert.ok(verified.grants.has('moderate'));
      const other = await alpha.createSession();
      await assert.rejects(verifyParticipantToken(token, { sessionId: other.id }, verifierDeps), {
        code: 'token_wrong_session',
      });
      const betaToken = beta.createToken(created.id, { identity: 'mallory' });
      await assert.rejects(verifyParticipantToken(betaToken, { sessionId: created.id }, verifierDeps), {
        code: 'token_wrong_session',
      });
    });

    await t.test("application B gets 404 for application A's session, and never lists it", async () => {
      await expectApiError(beta.getSession(created.id), 'session_not_found', 404);
      await expectApiError(beta.revokeTokens(created.id, { identity: 'alice' }), 'session_not_found', 404);
      const listed = await beta.listSessions();
      assert.equal(
        listed.sessions.some((s) => s.id === created.id),
        false,
      );
      await expectApiError(alpha.getSession('ses_doesnotexist'), 'session_not_found', 404);
    });

    await t.test('revokeTokens by jti and by identity: the tokens stop verifying', async () => {
      const byJti = alpha.createToken(created.id, { identity: 'bob' });
      const jti = (await verifyParticipantToken(byJti, { sessionId: created.id }, verifierDeps)).claims.jti;
      assert.deepEqual(await alpha.revokeTokens(created.id, { jti }), { revoked: true, disconnected: 0 });
      await assert.rejects(verifyParticipantToken(byJti, { sessionId: created.id }, verifierDeps), {
        code: 'token_revoked',
      });
      const carol = alpha.createToken(created.id, { identity: 'carol' });
      await alpha.revokeTokens(created.id, { identity: 'carol' });
      await assert.rejects(verifyParticipantToken(carol, { sessionId: created.id }, verifierDeps), {
        code: 'token_revoked',
      });
    });

    await t.test('every authentication failure answers 401 with a byte-identical body', async () => {
      const now = Math.floor(Date.now() / 1000);
      const replayed = hs256(restClaims(appA.apiKey), appA.apiSecret);
      const first = await fetch(`${url}/v1/sessions`, { headers: { authorization: `Bearer ${replayed}` } });
      assert.equal(first.status, 200);
      const cases: Record<string, string | undefined> = {
        'no Authorization header': undefined,
        'not a bearer token': `Basic ${Buffer.from(`${appA.apiKey}:${appA.apiSecret}`).toString('base64')}`,
        'wrong secret': `Bearer ${hs256(restClaims(appA.apiKey), 'wrong-secret')}`,
        "another application's secret for A's key": `Bearer ${hs256(restClaims(appA.apiKey), appB.apiSecret)}`,
        'unknown API key': `Bearer ${hs256(restClaims('ck_unknown'), appA.apiSecret)}`,
        'expired JWT': `Bearer ${hs256(restClaims(appA.apiKey, { iat: now - 600, exp: now - 300 }), appA.apiSecret)}`,
        'future iat': `Bearer ${hs256(restClaims(appA.apiKey, { iat: now + 600, exp: now + 660 }), appA.apiSecret)}`,
        'exp more than 5 minutes ahead': `Bearer ${hs256(restClaims(appA.apiKey, { exp: now + 3600 }), appA.apiSecret)}`,
        'alg none': `Bearer ${b64({ alg: 'none', typ: 'JWT' })}.${b64(restClaims(appA.apiKey))}.`,
        'jku header': `Bearer ${hs256(restClaims(appA.apiKey), appA.apiSecret, { alg: 'HS256', jku: 'http://127.0.0.1/k' })}`,
        'replayed JWT': `Bearer ${replayed}`,
        'participant token as REST credential': `Bearer ${alpha.createToken(created.id, { identity: 'x', ttlSeconds: 60 })}`,
      };
      for (const [label, authorization] of Object.entries(cases)) {
        const response = await fetch(`${url}/v1/sessions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
          body: '{}',
        });
        assert.equal(response.status, 401, label);
        assert.equal(await response.text(), UNAUTHORIZED, label);
      }
      await expectApiError(
        new Conclave({ url, apiKey: appA.apiKey, apiSecret: appB.apiSecret }).listSessions(),
        'unauthorized',
        401,
      );
      const failures = (await server.control.audit.list({ limit: 1000 })).filter(
        (e) => e.action === 'rest.auth_failed',
      );
      assert.ok(failures.length >= Object.keys(cases).length, `audited ${failures.length}`);
      assert.ok(failures.every((e) => e.source === '127.0.0.1'));
      assert.ok(failures.some((e) => e.target === 'POST /v1/sessions' && e.actor === 'anonymous'));
      const auditText = JSON.stringify(failures);
      assert.equal(auditText.includes(replayed), false, 'the token is never recorded');
      assert.equal(auditText.includes(appA.apiSecret), false);
    });

    await t.test('request errors use the protocol codes and name the field', async () => {
      const call = (path: string, init: RequestInit = {}) =>
        fetch(`${url}${path}`, {
          ...init,
          headers: {
            authorization: `Bearer ${hs256(restClaims(appA.apiKey), appA.apiSecret)}`,
            ...init.headers,
          },
        });
      const json = { 'content-type': 'application/json' };
      const unknownField = await call('/v1/sessions', {
        method: 'POST',
        headers: json,
        body: '{"maxParticipant":3}',
      });
      assert.equal(unknownField.status, 400);
      assert.deepEqual(await unknownField.json(), {
        error: { code: 'invalid_request', message: 'body.maxParticipant is not a known field' },
      });
      const outOfRange = await call('/v1/sessions', {
        method: 'POST',
        headers: json,
        body: '{"maxParticipants":0}',
      });
      const outOfRangeBody = (await outOfRange.json()) as { error: { code: string; message: string } };
      assert.equal(outOfRange.status, 400);
      assert.equal(outOfRangeBody.error.code, 'invalid_request');
      assert.match(outOfRangeBody.error.message, /^body\.maxParticipants /);
      const stringCount = await call('/v1/sessions', {
        method: 'POST',
        headers: json,
        body: '{"maxParticipants":"3"}',
      });
      assert.equal(stringCount.status, 400, 'body values are not coerced');
      const badJson = await call('/v1/sessions', { method: 'POST', headers: json, body: '{"name":' });
      assert.equal(badJson.status, 400);
      assert.equal(((await badJson.json()) as { error: { code: string } }).error.code, 'invalid_request');
      const text = await call('/v1/sessions', {
        method: 'POST',
        headers: { 'content-type': 'text/plain' },
        body: 'hi',
      });
      assert.equal(text.status, 415);
      assert.equal(((await text.json()) as { error: { code: string } }).error.code, 'unsupported_media_type');
      const huge = await call('/v1/sessions', {
        method: 'POST',
        headers: json,
        body: JSON.stringify({ metadata: 'x'.repeat(server.config.api.bodyLimitBytes) }),
      });
      assert.equal(huge.status, 413);
      assert.equal(((await huge.json()) as { error: { code: string } }).error.code, 'payload_too_large');
      const emptyRevoke = await call(`/v1/sessions/${created.id}/tokens/revoke`, {
        method: 'POST',
        headers: json,
        body: '{}',
      });
      assert.equal(emptyRevoke.status, 400);
      const unknownQuery = await call('/v1/sessions?owner=someone');
      assert.equal(unknownQuery.status, 400);
      const badCursor = await call('/v1/sessions?cursor=nonsense');
      assert.equal(badCursor.status, 400);
      const missing = await call('/v1/nothing-here');
      assert.equal(missing.status, 404);
      assert.deepEqual(await missing.json(), { error: { code: 'not_found', message: 'Not found' } });
      for (const response of [unknownField, outOfRange, badJson, text, huge, missing]) {
        assert.equal(response.headers.get('content-type')?.startsWith('application/json'), true);
      }
    });

    await t.test(
      'an application with a registered Ed25519 key signs with it, and its secret stops working',
      async () => {
        const { privateKey, publicKey } = generateKeyPairSync('ed25519');
        const appC = await booted.createApp('gamma');
        await server.control.apps.setPublicKey(
          appC.appId,
          publicKey.export({ type: 'spki', format: 'pem' }).toString(),
          { id: 'cli:test', source: 'local' },
        );
        const gamma = new Conclave({ url, apiKey: appC.apiKey, privateKey });
        const session = await gamma.createSession({ name: 'keyed' });
        const token = gamma.createToken(session.id, { identity: 'dora' });
        assert.equal(
          (await verifyParticipantToken(token, { sessionId: session.id }, verifierDeps)).appId,
          appC.appId,
        );
        await expectApiError(
          new Conclave({ url, apiKey: appC.apiKey, apiSecret: appC.apiSecret }).listSessions(),
          'unauthorized',
          401,
        );
        const p256 = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
        const appD = await booted.createApp('delta');
        await server.control.apps.setPublicKey(
          appD.apiKey,
          p256.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
          { id: 'cli:test', source: 'local' },
        );
        const delta = new Conclave({
          url,
          apiKey: appD.apiKey,
          privateKey: p256.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
        });
        assert.equal((await delta.createSession()).mediaMode, 'routed');
      },
    );

    await t.test('GET /v1/openapi.json documents the API from the route schemas', async () => {
      const response = await fetch(`${url}/v1/openapi.json`);
      assert.equal(response.status, 200);
      const doc = (await response.json()) as {
        openapi: string;
        paths: Record<string, Record<string, { responses: Record<string, unknown>; requestBody?: unknown }>>;
        components: { securitySchemes: Record<string, { type: string; scheme: string }> };
        security: unknown[];
      };
      assert.match(doc.openapi, /^3\./);
      assert.deepEqual(Object.keys(doc.paths).sort(), [
        '/v1/sessions',
        '/v1/sessions/{id}',
        '/v1/sessions/{id}/tokens/revoke',
      ]);
      assert.ok(doc.paths['/v1/sessions']?.post?.requestBody, 'request body schema');
      assert.ok(doc.paths['/v1/sessions']?.post?.responses['201']);
      assert.ok(doc.paths['/v1/sessions']?.get?.responses['401'], 'error responses documented');
      assert.ok(doc.paths['/v1/sessions/{id}']?.get?.responses['404']);
      assert.deepEqual(doc.components.securitySchemes.bearerAuth, {
        type: 'http',
        scheme: 'bearer',
        bearerFormat: 'JWT',
      });
      assert.deepEqual(doc.security, [{ bearerAuth: [] }]);
    });

    await t.test('the API secrets never appear in the server log', () => {
      const log = booted.log();
      assert.ok(log.length > 0, 'the log was captured');
      for (const app of [appA, appB]) assert.equal(log.includes(app.apiSecret), false);
      assert.equal(/Bearer [A-Za-z0-9_-]+\./.test(log), false, 'no bearer JWT logged either');
    });
  });
}
