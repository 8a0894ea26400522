/**
 * Security headers as a browser sees them, on every kind of response (API success, API error,
 * not found, the demo page), under TLS with the self-signed certificate: HSTS, nosniff, a
 * deny-all CSP on API answers and a strict one on the demo page (no inline or eval script, no
 * wildcard source, no framing), and nothing that names the software.
 */
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { request } from 'node:https';
import { test } from 'node:test';
import { bootAbuseServer } from './support.ts';

function get(
  url: string,
  ca: string,
  path: string,
): Promise<{ status: number; headers: IncomingHttpHeaders }> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, ca, servername: 'localhost' }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Parses a CSP header into directive -> sources. */
function directives(csp: string): Map<string, string[]> {
  return new Map(
    csp
      .split(';')
      .map((d) => d.trim().split(/\s+/))
      .filter((parts) => parts[0])
      .map(([name, ...sources]) => [name!.toLowerCase(), sources]),
  );
}

test('every response under TLS carries HSTS, nosniff, framing and referrer protection, and a CSP', async (t) => {
  const s = await bootAbuseServer(t, { server: { tls: { selfSigned: true } }, devMode: true });
  const ca = s.server.tls!.cert;
  const paths = {
    health: '/healthz',
    unauthenticated: '/v1/sessions',
    missing: '/v1/nothing-here',
    demo: '/',
  };
  for (const [name, path] of Object.entries(paths)) {
    const { status, headers } = await get(s.url, ca, path);
    assert.ok(status > 0, `${name} answered`);
    assert.match(String(headers['strict-transport-security']), /^max-age=(\d+)/, `${name}: HSTS`);
    const maxAge = Number(/max-age=(\d+)/.exec(String(headers['strict-transport-security']))?.[1]);
    assert.ok(maxAge >= 15_552_000, `${name}: HSTS max-age of at least 180 days (${maxAge})`);
    assert.equal(headers['x-content-type-options'], 'nosniff', `${name}: nosniff`);
    assert.equal(headers['x-frame-options'], 'DENY', `${name}: X-Frame-Options`);
    assert.equal(headers['referrer-policy'], 'no-referrer', `${name}: Referrer-Policy`);
    assert.equal(headers['x-powered-by'], undefined, `${name}: no X-Powered-By`);
    assert.equal(headers.server, undefined, `${name}: no Server header`);
    const csp = directives(String(headers['content-security-policy'] ?? ''));
    assert.deepEqual(csp.get('frame-ancestors'), ["'none'"], `${name}: frame-ancestors 'none'`);
    if (name !== 'demo')
      assert.deepEqual(csp.get('default-src'), ["'none'"], `${name}: API CSP denies everything`);
  }
});

test('the demo page CSP is strict: no inline or eval script, no wildcard, no plugins or base tricks', async (t) => {
  const s = await bootAbuseServer(t, { server: { tls: { selfSigned: true } }, devMode: true });
  const { status, headers } = await get(s.url, s.server.tls!.cert, '/');
  assert.equal(status, 200, 'the demo page is served in development mode');
  const csp = directives(String(headers['content-security-policy']));
  assert.deepEqual(csp.get('default-src'), ["'none'"]);
  assert.deepEqual(csp.get('script-src'), ["'self'"], 'scripts only from the server itself');
  assert.deepEqual(csp.get('base-uri'), ["'none'"]);
  assert.deepEqual(csp.get('form-action'), ["'none'"]);
  for (const [directive, sources] of csp) {
    for (const bad of [
      "'unsafe-inline'",
      "'unsafe-eval'",
      "'unsafe-hashes'",
      '*',
      'http:',
      'https:',
      'data:',
    ]) {
      if (bad === 'data:' && directive === 'img-src') continue;
      assert.equal(sources.includes(bad), false, `${directive} allows ${bad}`);
    }
  }
});

test('plain HTTP on loopback sends no HSTS (it would be ignored and misleading)', async (t) => {
  const s = await bootAbuseServer(t);
  const response = await fetch(`${s.url}/healthz`);
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('strict-transport-security'), null);
  assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
  assert.match(response.headers.get('content-security-policy') ?? '', /default-src 'none'/);
});
