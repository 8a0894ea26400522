import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, stat } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { connect } from 'node:tls';
import { bootTestServer } from '../support/server.ts';

const repoRoot = new URL('../../../../', import.meta.url).pathname;
const mainTs = join(repoRoot, 'apps/server/src/main.ts');

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'conclave-start-'));
}

/** Starts `npm start`'s entry point and resolves with its URL once it prints where it listens. */
function spawnServer(args: string[]) {
  const child = spawn(process.execPath, ['--import', 'tsx', mainTs, ...args], {
    cwd: repoRoot,
    env: { ...process.env, CONCLAVE_LOG_LEVEL: 'warn' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const listening = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no start-up line; stderr: ${stderr}`)), 90_000);
    child.stdout.on('data', () => {
      const match = /Conclave listening on (\S+)/.exec(stdout);
      if (match && stdout.includes('app create')) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`exited early: ${stderr}`));
    });
  });
  return { child, listening, exited, output: () => ({ stdout, stderr }) };
}

test('npm start serves /healthz on loopback and says how to create an application', async () => {
  const dataDir = await tempDir();
  const server = spawnServer(['--port', '0', '--rtc-port', '0', '--data-dir', dataDir]);
  const url = await server.listening;
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
  const response = await fetch(`${url}/healthz`);
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), { status: 'ok' });
  assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
  assert.match(server.output().stdout, /npx conclave app create my-app --json/);
  assert.match(server.output().stdout, /Development mode: demo page at http:\/\/localhost:\d+\//);
  server.child.kill('SIGTERM');
  assert.equal(await server.exited, 0);
  // The generated master key file is private to the server's user.
  assert.equal((await stat(join(dataDir, 'master.key'))).mode & 0o777, 0o600);
});

test('the server refuses a non-loopback address without TLS', async () => {
  const server = spawnServer(['--host', '0.0.0.0', '--port', '0', '--data-dir', await tempDir()]);
  await assert.rejects(server.listening);
  assert.equal(await server.exited, 1);
  assert.match(server.output().stderr, /Refusing to listen on 0\.0\.0\.0 without TLS/);
  assert.doesNotMatch(server.output().stderr, /at .*\.ts:\d+/, 'no stack trace');
});

test('bad configuration exits non-zero with one line naming the key', async () => {
  const server = spawnServer(['--port', '99999', '--data-dir', await tempDir()]);
  await assert.rejects(server.listening);
  assert.equal(await server.exited, 1);
  assert.match(server.output().stderr, /^conclave: Invalid configuration: server\.port/);
});

test('--tls-self-signed serves HTTPS with TLS 1.2/1.3 only, HSTS, and a 0600 key', async (t) => {
  const { server, dataDir, close } = await bootTestServer({ name: 'start', argv: ['--tls-self-signed'] });
  t.after(close);
  assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  assert.equal((await stat(join(dataDir, 'tls', 'self-signed.key'))).mode & 0o777, 0o600);
  const ca = server.tls!.cert;
  const port = Number(new URL(server.url).port);

  const { status, headers, body } = await new Promise<{
    status: number;
    headers: Record<string, unknown>;
    body: string;
  }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/healthz', ca, servername: 'localhost' }, (res) => {
      let body = '';
      res.on('data', (d) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
  assert.equal(status, 200);
  assert.deepEqual(JSON.parse(body), { status: 'ok' });
  assert.match(String(headers['strict-transport-security']), /max-age=31536000/);

  const handshake = (minVersion: 'TLSv1' | 'TLSv1.2', maxVersion: 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3') =>
    new Promise<string>((resolve, reject) => {
      // SECLEVEL=0 lets this client offer old versions, so a refusal can only come from the server.
      const socket = connect({
        host: '127.0.0.1',
        port,
        ca,
        servername: 'localhost',
        minVersion,
        maxVersion,
        ciphers: 'DEFAULT@SECLEVEL=0',
      });
      socket.once('secureConnect', () => {
        resolve(socket.getProtocol() ?? '');
        socket.end();
      });
      socket.once('error', reject);
    });
  assert.equal(await handshake('TLSv1.2', 'TLSv1.2'), 'TLSv1.2');
  assert.equal(await handshake('TLSv1.2', 'TLSv1.3'), 'TLSv1.3');
  await assert.rejects(handshake('TLSv1', 'TLSv1.1'));
});
