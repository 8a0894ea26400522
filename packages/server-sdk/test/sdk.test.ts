import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync, verify } from 'node:crypto';
import { describe, test } from 'node:test';
import { Conclave, ConclaveApiError } from '../src/index.ts';

const URL_BASE = 'http://127.0.0.1:7880';
const API_KEY = 'ck_test';
const API_SECRET = 'Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5';
const NOW_MS = Date.UTC(2026, 0, 15, 12, 0, 0);

function decode(token: string) {
  const [header, payload, signature] = token.split('.') as [string, string, string];
  return {
    header: JSON.parse(Buffer.from(header, 'base64url').toString()) as Record<string, unknown>,
    claims: JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>,
    input: `${header}.${payload}`,
    signature: Buffer.from(signature, 'base64url'),
  };
}

interface Captured {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string | undefined;
}

/** A fetch that records what the SDK sends and answers with a fixed response. */
function recordingFetch(answer: () => Response) {
  const calls: Captured[] = [];
  const fetchImpl: typeof fetch = async (input, init) => {
    calls.push({
      url: String(input),
      method: init?.method ?? 'GET',
      headers: Object.fromEntries(new Headers(init?.headers).entries()),
      body: typeof init?.body === 'string' ? init.body : undefined,
    });
    return answer();
  };
  return { calls, fetchImpl };
}

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

describe('Conclave.createToken()', () => {
  const conclave = new Conclave({ url: URL_BASE, apiKey: API_KEY, apiSecret: API_SECRET, now: () => NOW_MS });

  test('mints an HS256 participant token locally with the documented claims and defaults', () => {
    const { header, claims, input, signature } = decode(conclave.createToken('ses_1', { identity: 'alice' }));
    assert.deepEqual(header, { alg: 'HS256', typ: 'JWT' });
    const iat = NOW_MS / 1000;
    assert.deepEqual(
      { ...claims, jti: undefined },
      {
        iss: API_KEY,
        sub: 'alice',
        sid: 'ses_1',
        role: 'publisher',
        iat,
        nbf: iat,
        exp: iat + 600,
        jti: undefined,
      },
    );
    const expected = createHmac('sha256', API_SECRET).update(input).digest();
    assert.deepEqual(signature, expected, 'signed with the API secret');
  });

  test('gives every token its own random jti', () => {
    const jtis = new Set(
      Array.from({ length: 50 }, () => decode(conclave.createToken('s', { identity: 'a' })).claims.jti),
    );
    assert.equal(jtis.size, 50);
  });

  test('carries role, data and ttlSeconds', () => {
    const { claims } = decode(
      conclave.createToken('ses_1', {
        identity: 'bob',
        role: 'subscriber',
        data: '{"seat":4}',
        ttlSeconds: 120,
      }),
    );
    assert.equal(claims.role, 'subscriber');
    assert.equal(claims.data, '{"seat":4}');
    assert.equal((claims.exp as number) - (claims.iat as number), 120);
  });

  test('refuses connection data above 1,000 bytes, an empty identity, an unknown role, a bad ttl', () => {
    assert.throws(() => conclave.createToken('s', { identity: 'a', data: 'ü'.repeat(501) }), TypeError);
    assert.throws(() => conclave.createToken('s', { identity: '' }), TypeError);
    assert.throws(
      () => conclave.createToken('s', { identity: 'a', role: 'admin' as 'publisher' }),
      TypeError,
    );
    assert.throws(() => conclave.createToken('s', { identity: 'a', ttlSeconds: 0 }), TypeError);
    assert.throws(() => conclave.createToken('', { identity: 'a' }), TypeError);
  });

  test('signs EdDSA with an Ed25519 private key (PEM)', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const sdk = new Conclave({
      url: URL_BASE,
      apiKey: API_KEY,
      privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    });
    const { header, input, signature } = decode(sdk.createToken('s', { identity: 'a' }));
    assert.equal(header.alg, 'EdDSA');
    assert.equal(verify(null, Buffer.from(input), publicKey, signature), true);
  });

  test('signs ES256 with a P-256 KeyObject, as a 64-byte IEEE P1363 signature', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const sdk = new Conclave({ url: URL_BASE, apiKey: API_KEY, privateKey });
    const { header, input, signature } = decode(sdk.createToken('s', { identity: 'a' }));
    assert.equal(header.alg, 'ES256');
    assert.equal(signature.length, 64);
    assert.equal(
      verify('sha256', Buffer.from(input), { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature),
      true,
    );
  });

  test('refuses keys it cannot sign JWS with (RSA, P-384, a public key)', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
    assert.throws(
      () => new Conclave({ url: URL_BASE, apiKey: API_KEY, privateKey: rsa.privateKey }),
      TypeError,
    );
    assert.throws(
      () => new Conclave({ url: URL_BASE, apiKey: API_KEY, privateKey: p384.privateKey }),
      TypeError,
    );
    assert.throws(
      () => new Conclave({ url: URL_BASE, apiKey: API_KEY, privateKey: rsa.publicKey as never }),
      TypeError,
    );
  });
});

describe('Conclave REST calls', () => {
  const session = {
    id: 'ses_1',
    name: null,
    mediaMode: 'routed',
    e2ee: false,
    maxParticipants: null,
    archiveMode: 'manual',
    region: null,
    metadata: null,
    createdAt: new Date(NOW_MS).toISOString(),
  };

  test('sign a fresh 60-second JWT per call and never send the secret', async () => {
    const { calls, fetchImpl } = recordingFetch(() => json(200, session));
    const sdk = new Conclave({
      url: `${URL_BASE}/`,
      apiKey: API_KEY,
      apiSecret: API_SECRET,
      fetch: fetchImpl,
    });
    await sdk.createSession({ name: 'standup' });
    await sdk.getSession('ses_1');
    await sdk.revokeTokens('ses_1', { identity: 'alice' });
    assert.deepEqual(
      calls.map((c) => `${c.method} ${c.url}`),
      [
        `POST ${URL_BASE}/v1/sessions`,
        `GET ${URL_BASE}/v1/sessions/ses_1`,
        `POST ${URL_BASE}/v1/sessions/ses_1/tokens/revoke`,
      ],
    );
    const jwts = calls.map((c) => decode(c.headers.authorization?.replace(/^Bearer /, '') ?? ''));
    assert.equal(new Set(jwts.map((j) => j.claims.jti)).size, 3, 'a new jti per call');
    for (const jwt of jwts) {
      assert.equal((jwt.claims.exp as number) - (jwt.claims.iat as number), 60);
      assert.equal(jwt.claims.iss, API_KEY);
      assert.equal(jwt.claims.sid, undefined, 'a REST JWT is not a participant token');
    }
    assert.equal(JSON.stringify(calls).includes(API_SECRET), false, 'the secret never travels');
    assert.equal(calls[0]?.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(calls[2]?.body ?? ''), { identity: 'alice' });
  });

  test('listSessions puts the query in the URL', async () => {
    const { calls, fetchImpl } = recordingFetch(() => json(200, { sessions: [], nextCursor: null }));
    const sdk = new Conclave({ url: URL_BASE, apiKey: API_KEY, apiSecret: API_SECRET, fetch: fetchImpl });
    await sdk.listSessions({ name: 'standup', limit: 5 });
    assert.equal(calls[0]?.url, `${URL_BASE}/v1/sessions?name=standup&limit=5`);
  });

  test('throw ConclaveApiError with the protocol code and HTTP status', async () => {
    const { fetchImpl } = recordingFetch(() =>
      json(404, { error: { code: 'session_not_found', message: 'Session not found' } }),
    );
    const sdk = new Conclave({ url: URL_BASE, apiKey: API_KEY, apiSecret: API_SECRET, fetch: fetchImpl });
    await assert.rejects(sdk.getSession('ses_x'), (err: unknown) => {
      assert.ok(err instanceof ConclaveApiError);
      assert.equal(err.code, 'session_not_found');
      assert.equal(err.status, 404);
      return true;
    });
  });

  test('map an answer without the protocol shape to internal, and no answer to unavailable', async () => {
    const proxy = new Conclave({
      url: URL_BASE,
      apiKey: API_KEY,
      apiSecret: API_SECRET,
      fetch: recordingFetch(() => new Response('<html>Bad gateway</html>', { status: 502 })).fetchImpl,
    });
    await assert.rejects(proxy.listSessions(), { name: 'ConclaveApiError', code: 'internal', status: 502 });
    const down = new Conclave({
      url: URL_BASE,
      apiKey: API_KEY,
      apiSecret: API_SECRET,
      fetch: async () => {
        throw new TypeError('fetch failed');
      },
    });
    await assert.rejects(down.listSessions(), { name: 'ConclaveApiError', code: 'unavailable', status: 0 });
  });
});
