/**
 * TURN abuse against a real coturn with the generated, hardened configuration (beyond
 * apps/server/test/turn, which checks single refusals): unauthenticated Allocate requests from
 * a spoofable source get one small 401 each and create no state, with the amplification factor
 * measured; one credential hammering Allocate gets exactly its quota.
 */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { after, before, describe, test } from 'node:test';
import type { IceServerInfo } from '@conclave/protocol/signaling';
import { mintTurnCredentials } from '../../src/turn/credentials.ts';
import {
  Attr,
  decodeStun,
  encodeStun,
  errorCode,
  MessageClass,
  Method,
} from '../../src/turn/testing/stun.ts';
import { TurnClient } from '../../src/turn/testing/turn-client.ts';
import { requireComponent } from '../support/env.ts';
import { coturnInstalled, startTestCoturn, type TestCoturn } from '../turn/fixture.ts';

const USER_QUOTA = 3;

describe('TURN abuse against coturn', { skip: !coturnInstalled && !process.env.CI }, () => {
  let coturn: TestCoturn;
  const clients: TurnClient[] = [];
  before(async () => {
    coturn = await startTestCoturn({ userQuota: USER_QUOTA, ipv6: false });
  });
  after(async () => {
    for (const client of clients) client.close();
    await coturn?.stop();
  });

  test('unauthenticated Allocate: one 401 per request, no relay, amplification measured', async (t) => {
    if (!requireComponent(t, 'coturn (turnserver)', coturnInstalled)) return;
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    t.after(() => socket.close());
    const answers: Buffer[] = [];
    socket.on('message', (message) => answers.push(message));
    // The smallest Allocate an attacker can send: header and REQUESTED-TRANSPORT (UDP).
    const request = () =>
      encodeStun({
        method: Method.allocate,
        messageClass: MessageClass.request,
        attributes: [[Attr.requestedTransport, Buffer.from([17, 0, 0, 0])]],
      });
    const count = 200;
    let sentBytes = 0;
    for (let i = 0; i < count; i++) {
      const datagram = request();
      sentBytes += datagram.length;
      socket.send(datagram, coturn.port, coturn.host);
      if (i % 20 === 19) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const answeredBytes = answers.reduce((sum, a) => sum + a.length, 0);
    const decoded = answers.map((a) => decodeStun(a));
    const largest = Math.max(0, ...answers.map((a) => a.length));
    console.log(
      `turn unauthenticated allocate: ${count} requests of ${sentBytes / count} bytes, ${answers.length} answers of at most ${largest} bytes, amplification ${(answeredBytes / sentBytes).toFixed(2)}x`,
    );
    assert.ok(answers.length <= count, 'at most one answer per request');
    for (const message of decoded) {
      assert.equal(message.messageClass, MessageClass.error);
      assert.equal(errorCode(message)?.code, 401);
      assert.equal(message.attributes.filter(([type]) => type === Attr.xorRelayedAddress).length, 0);
    }
    // A 401 must carry REALM and NONCE, so it is larger than the smallest request; it must stay
    // a small constant factor, never growing with anything the attacker controls.
    assert.ok(answeredBytes <= sentBytes * 4, 'amplification under 4x');
  });

  test('one credential hammering Allocate gets exactly its quota', async (t) => {
    if (!requireComponent(t, 'coturn (turnserver)', coturnInstalled)) return;
    const [server]: IceServerInfo[] = mintTurnCredentials({
      secret: coturn.secret,
      identity: 'allocation-flooder',
      ttlSeconds: 60,
      urls: coturn.urls,
    });
    assert.ok(server?.username && server.credential);
    const creds = { username: server.username, password: server.credential };
    const results = await Promise.all(
      Array.from({ length: 30 }, async () => {
        const client = await TurnClient.connect({ host: coturn.host, port: coturn.port, transport: 'udp' });
        clients.push(client);
        return client.allocate(creds);
      }),
    );
    const granted = results.filter((r) => r.ok).length;
    const refused = results.filter((r) => !r.ok).map((r) => (r.ok ? 0 : r.code));
    console.log(
      `turn allocation flood: 30 Allocate from one credential at once, ${granted} granted, refusals ${JSON.stringify([...new Set(refused)])}`,
    );
    assert.equal(granted, USER_QUOTA);
    assert.ok(
      refused.every((code) => code === 486),
      'every other one refused with 486 (quota reached)',
    );
  });
});
