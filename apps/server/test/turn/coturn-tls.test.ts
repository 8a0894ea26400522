/**
 * `turns:`: coturn's TLS listener with the generated configuration speaks TLS 1.2+ only.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type ConnectionOptions, connect, type TLSSocket } from 'node:tls';
import { mintTurnCredentials } from '../../src/turn/credentials.ts';
import { TurnClient } from '../../src/turn/testing/turn-client.ts';
import { requireComponent } from '../support/env.ts';
import { coturnInstalled, startTestCoturn, type TestCoturn } from './fixture.ts';

/** A client that offers only TLS 1.0 and 1.1, with the legacy ciphers those versions need. */
const legacyClient: ConnectionOptions = {
  minVersion: 'TLSv1',
  maxVersion: 'TLSv1.1',
  ciphers: 'DEFAULT@SECLEVEL=0',
  rejectUnauthorized: false,
};

/**
 * Resolves with the TLS session, or rejects on a handshake error or after 3 s without one: coturn
 * answers a TLS 1.0/1.1 ClientHello by saying nothing at all rather than with an alert.
 */
function handshake(port: number, options: ConnectionOptions): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ...options });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('no TLS handshake within 3 s'));
    }, 3000);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

describe('coturn TLS listener (turns:)', { skip: !coturnInstalled && !process.env.CI }, () => {
  let coturn: TestCoturn;
  before(async () => {
    coturn = await startTestCoturn({ ipv6: false });
  });
  after(() => coturn?.stop());

  test('accepts a TLS 1.2+ client with its certificate and allocates a relay over TLS', async (t) => {
    requireComponent(t, 'coturn (turnserver)', coturnInstalled);
    // A browser-like client offering 1.2 and 1.3. coturn 4.6.1 (Debian 12) negotiates 1.2: TLS 1.3
    // arrived in coturn 4.6.2 (coturn/coturn#989).
    const socket = await handshake(coturn.tlsPort, { ca: coturn.certificate, minVersion: 'TLSv1.2' });
    assert.match(socket.getProtocol() ?? '', /^TLSv1\.[23]$/);
    socket.destroy();
    const [server] = mintTurnCredentials({
      secret: coturn.secret,
      identity: 'tls',
      ttlSeconds: 60,
      urls: coturn.urls,
    });
    const client = await TurnClient.connect({
      host: coturn.host,
      port: coturn.tlsPort,
      transport: 'tls',
      tls: { ca: coturn.certificate },
    });
    try {
      const result = await client.allocate({
        username: server?.username ?? '',
        password: server?.credential ?? '',
      });
      assert.ok(result.ok, JSON.stringify(result));
    } finally {
      client.close();
    }
  });

  test('refuses a client that offers only TLS 1.0 or 1.1', async (t) => {
    requireComponent(t, 'coturn (turnserver)', coturnInstalled);
    await assert.rejects(handshake(coturn.tlsPort, legacyClient));
  });

  test('no-tlsv1 and no-tlsv1_1 refuse legacy TLS even where OpenSSL policy would allow it', async (t) => {
    requireComponent(t, 'coturn (turnserver)', coturnInstalled);
    // OpenSSL 3 at its default security level already fails TLS 1.0/1.1 handshakes; lower it so
    // that only the generated directives stand between a legacy client and the listener.
    const permissiveCiphers = (text: string) =>
      text.replace(/^cipher-list=.*$/m, 'cipher-list="DEFAULT@SECLEVEL=0"');
    const withDirectives = await startTestCoturn({ ipv6: false, editConfig: permissiveCiphers });
    t.after(() => withDirectives.stop());
    await assert.rejects(handshake(withDirectives.tlsPort, legacyClient));

    const withoutDirectives = await startTestCoturn({
      ipv6: false,
      editConfig: (text) => permissiveCiphers(text).replace(/^no-tlsv1(_1)?$/gm, ''),
    });
    t.after(() => withoutDirectives.stop());
    const socket = await handshake(withoutDirectives.tlsPort, legacyClient);
    assert.match(socket.getProtocol() ?? '', /^TLSv1(\.1)?$/);
    socket.destroy();
  });
});
