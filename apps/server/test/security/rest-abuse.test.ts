/**
 * REST abuse against the real server: oversized and lying bodies, deeply nested JSON, prototype
 * pollution keys, wrong content types, per-key rate limiting, and a tenant-isolation matrix.
 * Every case checks the answer a partner back-end would see, that the server still answers
 * /healthz, and that another application's calls keep working.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { test } from 'node:test';
import type { ApplicationCredentials } from '../../src/control/types.ts';
import { type AbuseServer, bootAbuseServer } from './support.ts';

interface Answer {
  status: number;
  headers: Headers;
  body: { error?: { code: string; message: string } } & Record<string, unknown>;
}

async function call(
  s: AbuseServer,
  app: ApplicationCredentials,
  path: string,
  init: RequestInit = {},
): Promise<Answer> {
  const response = await fetch(`${s.url}${path}`, {
    ...init,
    headers: { authorization: s.bearer(app), ...init.headers },
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : {} };
}

const json = { 'content-type': 'application/json' };

/** Application B keeps creating and reading its sessions while A misbehaves. */
async function assertBystanderServed(s: AbuseServer, bystander: ApplicationCredentials): Promise<void> {
  const created = await call(s, bystander, '/v1/sessions', {
    method: 'POST',
    headers: json,
    body: '{}',
  });
  assert.equal(created.status, 201, `bystander createSession: ${JSON.stringify(created.body)}`);
  const read = await call(s, bystander, `/v1/sessions/${created.body.id}`);
  assert.equal(read.status, 200);
  await s.assertHealthy();
}

test('REST abuse: bodies, nesting, prototype keys, content types', { timeout: 60_000 }, async (t) => {
  const s = await bootAbuseServer(t);
  const [mallory, bystander] = await Promise.all([s.createApp('mallory'), s.createApp('bystander')]);
  const limit = s.server.config.api.bodyLimitBytes;

  await t.test('a body one byte over the limit gets 413 payload_too_large', async () => {
    const body = JSON.stringify({ metadata: 'x'.repeat(limit) });
    const answer = await call(s, mallory, '/v1/sessions', { method: 'POST', headers: json, body });
    assert.equal(answer.status, 413);
    assert.equal(answer.body.error?.code, 'payload_too_large');
    await assertBystanderServed(s, bystander);
  });

  await t.test(
    'a chunked body without Content-Length is cut off at the limit (413), not buffered',
    async () => {
      const { port } = new URL(s.url);
      const status = await new Promise<number>((resolve, reject) => {
        const req = httpRequest(
          {
            host: '127.0.0.1',
            port,
            path: '/v1/sessions',
            method: 'POST',
            headers: { ...json, authorization: s.bearer(mallory), 'transfer-encoding': 'chunked' },
          },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', (err: NodeJS.ErrnoException) =>
          err.code === 'EPIPE' || err.code === 'ECONNRESET' ? resolve(413) : reject(err),
        );
        // 16x the limit in 64 KiB chunks; the server must answer before we finish.
        const chunk = Buffer.alloc(64 * 1024, 0x20);
        let sent = 0;
        const pump = () => {
          while (sent < limit * 16) {
            sent += chunk.length;
            if (!req.write(chunk)) return req.once('drain', pump);
          }
          req.end();
        };
        req.write('{"metadata":"');
        pump();
      });
      assert.equal(status, 413);
      await assertBystanderServed(s, bystander);
    },
  );

  await t.test('JSON nested 10,000 levels deep gets 400 without a crash', async () => {
    for (const nested of [
      '['.repeat(10_000) + ']'.repeat(10_000),
      '{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000),
    ]) {
      const answer = await call(s, mallory, '/v1/sessions', { method: 'POST', headers: json, body: nested });
      assert.equal(answer.status, 400, `nested body: ${JSON.stringify(answer.body)}`);
      assert.equal(answer.body.error?.code, 'invalid_request');
    }
    await assertBystanderServed(s, bystander);
  });

  await t.test('__proto__ and constructor keys get 400 and pollute nothing', async () => {
    const bodies = [
      '{"__proto__":{"polluted":"yes"}}',
      '{"name":"a","__proto__":{"isAdmin":true}}',
      '{"constructor":{"prototype":{"polluted":"yes"}}}',
      '{"metadata":"m","nested":{"__proto__":{"polluted":"yes"}}}',
    ];
    for (const body of bodies) {
      const answer = await call(s, mallory, '/v1/sessions', { method: 'POST', headers: json, body });
      assert.equal(answer.status, 400, `${body}: ${JSON.stringify(answer.body)}`);
      assert.equal(answer.body.error?.code, 'invalid_request');
    }
    const revoke = await call(s, mallory, '/v1/sessions/ses_x/tokens/revoke', {
      method: 'POST',
      headers: json,
      body: '{"jti":"j","__proto__":{"polluted":"yes"}}',
    });
    assert.equal(revoke.status, 400);
    const probe: Record<string, unknown> = {};
    assert.equal(probe.polluted, undefined, 'Object.prototype.polluted');
    assert.equal(probe.isAdmin, undefined, 'Object.prototype.isAdmin');
    assert.equal(Object.hasOwn(Object.prototype, 'polluted'), false);
    await assertBystanderServed(s, bystander);
  });

  await t.test('a body that is not JSON gets 415 unsupported_media_type', async () => {
    const bodies: [string | undefined, string][] = [
      ['text/plain', '{"name":"a"}'],
      ['application/x-www-form-urlencoded', 'name=a'],
      [
        'multipart/form-data; boundary=x',
        '--x\r\nContent-Disposition: form-data; name="name"\r\n\r\na\r\n--x--\r\n',
      ],
      ['application/xml', '<name>a</name>'],
      ['image/png', '\x89PNG'],
    ];
    for (const [type, body] of bodies) {
      const answer = await call(s, mallory, '/v1/sessions', {
        method: 'POST',
        headers: type ? { 'content-type': type } : {},
        body,
      });
      assert.equal(answer.status, 415, `${type}: ${answer.status} ${JSON.stringify(answer.body)}`);
      assert.equal(answer.body.error?.code, 'unsupported_media_type');
    }
    await assertBystanderServed(s, bystander);
  });

  await t.test('error answers carry no stack trace, file path or echoed input', async () => {
    const marker = 'ZZ_SECRETISH_VALUE_ZZ';
    const answers = await Promise.all([
      call(s, mallory, '/v1/sessions', { method: 'POST', headers: json, body: `{"name":"${marker}",` }),
      call(s, mallory, '/v1/sessions', { method: 'POST', headers: json, body: `{"region":"${marker}"}` }),
      call(s, mallory, `/v1/sessions/${marker}`),
    ]);
    for (const answer of answers) {
      const text = JSON.stringify(answer.body);
      assert.doesNotMatch(text, /\.ts:\d+|node_modules|at [A-Za-z]+ \(/, text);
      assert.equal(text.includes(marker), false, `echoes input: ${text}`);
    }
  });
});

test('REST rate limit: one key flooding gets 429 with Retry-After, another key is unaffected', {
  timeout: 60_000,
}, async (t) => {
  // A low rate so the flood exceeds it however slowly a loaded machine sends: at the default
  // 20/s, 300 requests that took 40 s to send (load average ~40) never drew a 429.
  const s = await bootAbuseServer(t, { api: { requestsPerSecond: 1, requestBurst: 50 } });
  const [flooder, bystander] = await Promise.all([s.createApp('flooder'), s.createApp('bystander')]);
  const answers = await Promise.all(Array.from({ length: 300 }, () => call(s, flooder, '/v1/sessions')));
  const limited = answers.filter((a) => a.status === 429);
  assert.ok(limited.length > 0, `300 requests at once from one key: ${limited.length} answered 429`);
  assert.match(limited[0]!.headers.get('retry-after') ?? '', /^\d+$/);
  assert.equal(limited[0]!.body.error?.code, 'rate_limited');
  await assertBystanderServed(s, bystander);
});

test("tenant isolation: application A's credentials against each of B's resources get 404", {
  timeout: 60_000,
}, async (t) => {
  const s = await bootAbuseServer(t);
  const [alpha, beta] = await Promise.all([s.createApp('alpha'), s.createApp('beta')]);
  const created = await call(s, beta, '/v1/sessions', {
    method: 'POST',
    headers: json,
    body: '{"name":"BlueRoom","metadata":"beta-private"}',
  });
  assert.equal(created.status, 201);
  const betaSession = created.body.id as string;

  const matrix: [string, string, RequestInit][] = [
    ['GET session', `/v1/sessions/${betaSession}`, {}],
    [
      'revoke by identity',
      `/v1/sessions/${betaSession}/tokens/revoke`,
      { method: 'POST', headers: json, body: '{"identity":"x"}' },
    ],
    [
      'revoke by jti',
      `/v1/sessions/${betaSession}/tokens/revoke`,
      { method: 'POST', headers: json, body: '{"jti":"x"}' },
    ],
  ];
  for (const [name, path, init] of matrix) {
    const answer = await call(s, alpha, path, init);
    assert.equal(answer.status, 404, `${name}: ${answer.status} ${JSON.stringify(answer.body)}`);
    assert.equal(answer.body.error?.code, 'session_not_found', name);
    // Indistinguishable from a session that does not exist at all.
    const nowhere = await call(s, alpha, path.replace(betaSession, 'ses_doesnotexist00000000000'), init);
    assert.deepEqual(answer.body, nowhere.body, `${name}: same body as a missing session`);
  }
  const listed = await call(s, alpha, '/v1/sessions');
  assert.equal(listed.status, 200);
  assert.equal(JSON.stringify(listed.body).includes(betaSession), false, "A's listing shows B's session");
  const byName = await call(s, alpha, '/v1/sessions?name=BlueRoom');
  assert.deepEqual((byName.body.sessions as unknown[]).length, 0, "A finds B's session by name");
  // The same name is A's own to use: names are scoped per application.
  const own = await call(s, alpha, '/v1/sessions', {
    method: 'POST',
    headers: json,
    body: '{"name":"BlueRoom"}',
  });
  assert.equal(own.status, 201);
  assert.notEqual(own.body.id, betaSession);
  // B still sees its own session unchanged.
  const still = await call(s, beta, `/v1/sessions/${betaSession}`);
  assert.equal(still.status, 200);
  assert.equal(still.body.metadata, 'beta-private');
  await s.assertHealthy();
});
