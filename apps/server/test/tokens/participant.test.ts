import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, test } from 'node:test';
import { verifyParticipantToken } from '../../src/control/tokens/index.ts';
import { b64, forge, InMemoryControl, NOW, participantClaims } from './support.ts';

const control = new InMemoryControl();
const appA = control.addSecretApp('a');
const appB = control.addSecretApp('b');
const edApp = control.addKeyApp('ed', 'EdDSA');
const ecApp = control.addKeyApp('ec', 'ES256');
control.addSession(appA.appId, 'ses_a');
control.addSession(appB.appId, 'ses_b');
control.addSession(edApp.appId, 'ses_ed');
control.addSession(ecApp.appId, 'ses_ec');
const deps = control.deps();

const HS = { alg: 'HS256', typ: 'JWT' };

function tokenA(extra: Record<string, unknown> = {}, header: Record<string, unknown> = HS): string {
  return forge(header, participantClaims(appA.apiKey, 'ses_a', extra), { hmac: appA.secret });
}

function refused(token: string, code: string, sessionId = 'ses_a') {
  return assert.rejects(verifyParticipantToken(token, { sessionId }, deps), (err: { code?: string }) => {
    assert.equal(err.code, code);
    return true;
  });
}

describe('verifyParticipantToken() accepts', () => {
  test('an HS256 token for its session, with the grants of its role', async () => {
    const verified = await verifyParticipantToken(tokenA({ data: 'seat 4' }), { sessionId: 'ses_a' }, deps);
    assert.equal(verified.appId, appA.appId);
    assert.equal(verified.claims.sub, 'user-1');
    assert.equal(verified.claims.data, 'seat 4');
    assert.deepEqual([...verified.grants].sort(), ['publish', 'publishData', 'subscribe']);
  });

  test('a subscriber token grants no publish', async () => {
    const verified = await verifyParticipantToken(
      tokenA({ role: 'subscriber' }),
      { sessionId: 'ses_a' },
      deps,
    );
    assert.equal(verified.grants.has('publish'), false);
    assert.equal(verified.grants.has('subscribe'), true);
  });

  test('an EdDSA token from an application with a registered Ed25519 key', async () => {
    const token = forge({ alg: 'EdDSA', typ: 'JWT' }, participantClaims(edApp.apiKey, 'ses_ed'), {
      ed25519: edApp.privateKey,
    });
    const verified = await verifyParticipantToken(token, { sessionId: 'ses_ed' }, deps);
    assert.equal(verified.appId, edApp.appId);
  });

  test('an ES256 token with an IEEE P1363 signature', async () => {
    const token = forge({ alg: 'ES256' }, participantClaims(ecApp.apiKey, 'ses_ec'), {
      p256: ecApp.privateKey,
    });
    const verified = await verifyParticipantToken(token, { sessionId: 'ses_ec' }, deps);
    assert.equal(verified.appId, ecApp.appId);
  });

  test('a kid equal to the issuing API key', async () => {
    const verified = await verifyParticipantToken(
      tokenA({}, { ...HS, kid: appA.apiKey }),
      { sessionId: 'ses_a' },
      deps,
    );
    assert.equal(verified.apiKey, appA.apiKey);
  });

  test('a token that expired less than the clock skew ago', async () => {
    const token = tokenA({ iat: NOW - 600, nbf: NOW - 600, exp: NOW - 10 });
    await verifyParticipantToken(token, { sessionId: 'ses_a' }, deps);
  });

  test('during a rotation overlap, tokens signed with the old or the new secret', async () => {
    const rotating = new InMemoryControl();
    const app = rotating.addSecretApp('r', 'new-secret-0123456789', 'old-secret-0123456789');
    rotating.addSession(app.appId, 'ses_r');
    for (const secret of ['new-secret-0123456789', 'old-secret-0123456789']) {
      const token = forge(HS, participantClaims(app.apiKey, 'ses_r'), { hmac: secret });
      await verifyParticipantToken(token, { sessionId: 'ses_r' }, rotating.deps());
    }
    const retired = forge(HS, participantClaims(app.apiKey, 'ses_r'), { hmac: 'retired-secret-012345' });
    await assert.rejects(verifyParticipantToken(retired, { sessionId: 'ses_r' }, rotating.deps()), {
      code: 'token_invalid',
    });
  });

  test('an identity revoked before the token was issued (a fresh token after a kick works)', async () => {
    const local = new InMemoryControl();
    const app = local.addSecretApp('k');
    local.addSession(app.appId, 'ses_k');
    local.revokedIdentities.set('ses_k user-1', NOW - 60);
    const token = forge(HS, participantClaims(app.apiKey, 'ses_k'), { hmac: app.secret });
    await verifyParticipantToken(token, { sessionId: 'ses_k' }, local.deps());
  });
});

describe('verifyParticipantToken() refuses', () => {
  test('a token for another session: token_wrong_session', () =>
    refused(tokenA(), 'token_wrong_session', 'ses_b'));

  test("another application's token for this session: token_wrong_session", () =>
    refused(
      forge(HS, participantClaims(appB.apiKey, 'ses_a'), { hmac: appB.secret }),
      'token_wrong_session',
    ));

  test("a token naming this application's key but signed with another application's secret", () =>
    refused(forge(HS, participantClaims(appA.apiKey, 'ses_a'), { hmac: appB.secret }), 'token_invalid'));

  test('a token for a session that does not exist: token_wrong_session', () =>
    refused(
      forge(HS, participantClaims(appA.apiKey, 'ses_gone'), { hmac: appA.secret }),
      'token_wrong_session',
      'ses_gone',
    ));

  test('an unknown API key: token_invalid', () =>
    refused(forge(HS, participantClaims('ck_nobody', 'ses_a'), { hmac: appA.secret }), 'token_invalid'));

  test('an expired token: token_expired', () =>
    refused(tokenA({ iat: NOW - 1200, nbf: NOW - 1200, exp: NOW - 31 }), 'token_expired'));

  test('a token not valid yet (nbf ahead beyond the skew): token_not_yet_valid', () =>
    refused(tokenA({ nbf: NOW + 31, exp: NOW + 600 }), 'token_not_yet_valid'));

  test('a token issued in the future beyond the skew: token_not_yet_valid', () =>
    refused(tokenA({ iat: NOW + 120, nbf: NOW + 120, exp: NOW + 700 }), 'token_not_yet_valid'));

  test('a lifetime above the configured maximum: token_lifetime_too_long', () =>
    refused(tokenA({ exp: NOW + 3601 }), 'token_lifetime_too_long'));

  test('a revoked jti: token_revoked', async () => {
    const claims = participantClaims(appA.apiKey, 'ses_a');
    control.revokedJtis.add(`ses_a ${claims.jti}`);
    await refused(forge(HS, claims, { hmac: appA.secret }), 'token_revoked');
  });

  test('a revoked identity (revoked at or after iat): token_revoked', async () => {
    control.revokedIdentities.set('ses_a kicked-user', NOW);
    await refused(tokenA({ sub: 'kicked-user' }), 'token_revoked');
  });

  for (const alg of ['HS512', 'RS256', 'PS256', 'ES384', 'HS256 ']) {
    test(`an unknown algorithm ${JSON.stringify(alg)}: token_algorithm_refused`, () =>
      refused(tokenA({}, { alg }), 'token_algorithm_refused'));
  }

  for (const alg of ['none', 'NONE', 'nOnE', 'None']) {
    test(`alg ${alg} with an empty signature: token_algorithm_refused`, () => {
      const unsigned = `${b64(JSON.stringify({ alg, typ: 'JWT' }))}.${b64(JSON.stringify(participantClaims(appA.apiKey, 'ses_a')))}.`;
      return refused(unsigned, 'token_algorithm_refused');
    });
  }

  test('alg none carrying a valid-looking signature: token_algorithm_refused', () =>
    refused(tokenA({}, { alg: 'none' }), 'token_algorithm_refused'));

  test('HS256 signed with the Ed25519 public key PEM as HMAC secret: token_algorithm_refused', () => {
    const pem = edApp.publicKey.export({ type: 'spki', format: 'pem' });
    return refused(
      forge(HS, participantClaims(edApp.apiKey, 'ses_ed'), { hmac: pem }),
      'token_algorithm_refused',
      'ses_ed',
    );
  });

  test('HS256 signed with the P-256 public key PEM as HMAC secret: token_algorithm_refused', () => {
    const pem = ecApp.publicKey.export({ type: 'spki', format: 'pem' });
    return refused(
      forge(HS, participantClaims(ecApp.apiKey, 'ses_ec'), { hmac: pem }),
      'token_algorithm_refused',
      'ses_ec',
    );
  });

  test('EdDSA for an application that signs with a shared secret: token_algorithm_refused', () =>
    refused(
      forge({ alg: 'EdDSA' }, participantClaims(appA.apiKey, 'ses_a'), { ed25519: edApp.privateKey }),
      'token_algorithm_refused',
    ));

  test('ES256 from an Ed25519 application: token_algorithm_refused', () =>
    refused(
      forge({ alg: 'ES256' }, participantClaims(edApp.apiKey, 'ses_ed'), { p256: ecApp.privateKey }),
      'token_algorithm_refused',
      'ses_ed',
    ));

  test('ES256 with a DER signature instead of P1363: token_invalid', () =>
    refused(
      forge({ alg: 'ES256' }, participantClaims(ecApp.apiKey, 'ses_ec'), {
        p256: ecApp.privateKey,
        encoding: 'der',
      }),
      'token_invalid',
      'ses_ec',
    ));

  test('a tampered payload (role raised after signing): token_invalid', () => {
    const [header, , signature] = tokenA({ role: 'subscriber' }).split('.');
    const raised = b64(JSON.stringify(participantClaims(appA.apiKey, 'ses_a', { role: 'moderator' })));
    return refused(`${header}.${raised}.${signature}`, 'token_invalid');
  });

  test('a tampered signature (one bit flipped): token_invalid', () => {
    const [header, payload, signature] = tokenA().split('.') as [string, string, string];
    const bytes = Buffer.from(signature, 'base64url');
    bytes[0] = (bytes[0] ?? 0) ^ 1;
    return refused(`${header}.${payload}.${bytes.toString('base64url')}`, 'token_invalid');
  });

  test('a truncated token (signature cut off): token_invalid', () => {
    const token = tokenA();
    return refused(token.slice(0, token.lastIndexOf('.')), 'token_invalid');
  });

  test('a truncated token (cut mid-signature): token_invalid', () => {
    const token = tokenA();
    return refused(token.slice(0, -5), 'token_invalid');
  });

  test('four segments: token_invalid', () => refused(`${tokenA()}.e30`, 'token_invalid'));

  test('a token over 8 KB, even correctly signed: token_too_large', () =>
    refused(tokenA({ pad: 'x'.repeat(8200) }), 'token_too_large'));

  test('8 KB of garbage is refused as too large before parsing', () =>
    refused('a'.repeat(8193), 'token_too_large'));

  for (const field of ['jku', 'x5u', 'jwk', 'x5c', 'crit', 'cty', 'b64']) {
    test(`a header with ${field}: token_invalid`, () => {
      const values: Record<string, unknown> = {
        jku: 'https://127.0.0.1/keys.json',
        x5u: 'https://127.0.0.1/cert.pem',
        jwk: { kty: 'oct', k: b64(appA.secret) },
        x5c: ['MIIB'],
        crit: ['exp'],
        cty: 'JWT',
        b64: false,
      };
      return refused(tokenA({}, { ...HS, [field]: values[field] }), 'token_invalid');
    });
  }

  test('an unexpected kid (not the issuing API key): token_invalid', () =>
    refused(tokenA({}, { ...HS, kid: appB.apiKey }), 'token_invalid'));

  test('a typ other than JWT: token_invalid', () =>
    refused(tokenA({}, { ...HS, typ: 'at+jwt' }), 'token_invalid'));

  test('base64 with padding or the standard alphabet: token_invalid', async () => {
    const [header, payload, signature] = tokenA().split('.') as [string, string, string];
    await refused(`${header}=.${payload}.${signature}`, 'token_invalid');
    await refused(
      `${header}.${payload}.${signature.replaceAll('_', '/').replaceAll('-', '+')}+`,
      'token_invalid',
    );
  });

  for (const [label, json] of [
    ['an array', '[]'],
    ['a number', '42'],
    ['null', 'null'],
    ['not JSON', '{"iss":'],
  ]) {
    test(`a payload that is ${label}: token_invalid`, () => {
      const header = b64(JSON.stringify(HS));
      const payload = b64(json as string);
      return refused(forgeRaw(header, payload, appA.secret), 'token_invalid');
    });
  }

  test('a role outside subscriber/publisher/moderator: token_invalid', () =>
    refused(tokenA({ role: 'admin' }), 'token_invalid'));

  test('connection data above 1,000 bytes: token_invalid', () =>
    refused(tokenA({ data: 'é'.repeat(501) }), 'token_invalid'));

  test('an identity longer than 256 characters: token_invalid', () =>
    refused(tokenA({ sub: 'u'.repeat(257) }), 'token_invalid'));

  test('claims of the wrong type (iat as a string): token_invalid', () =>
    refused(tokenA({ iat: String(NOW) }), 'token_invalid'));

  test('a token without jti: token_invalid', () => refused(tokenA({ jti: undefined }), 'token_invalid'));
});

function forgeRaw(header: string, payload: string, secret: string): string {
  const signature = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
  return `${header}.${payload}.${signature}`;
}
