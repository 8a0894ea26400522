/**
 * Network-level abuse of the media port (ICE UDP mux of the media worker) on the real server:
 * random and truncated datagrams, a flood of 10,000 packets, STUN binding requests without and
 * with a wrong MESSAGE-INTEGRITY, and a DTLS ClientHello from an address that never completed
 * ICE. The server must stay up, answer nothing larger than what it was sent (no amplification),
 * and a subscribed bystander must keep receiving video throughout.
 */
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { after, test } from 'node:test';
import { crc32 } from 'node:zlib';
import { releaseNodeDataChannel } from '@conclave/server/media/testing/rtp-peer';
import fc from 'fast-check';
import * as samples from '../../../../fuzz/seeds/samples.ts';
import { bootAbuseServer, startBystanders } from './support.ts';

interface Probe {
  socket: Socket;
  sentBytes: number;
  sentDatagrams: number;
  /** Sizes of every datagram the server sent back to this socket. */
  received: number[];
  send(data: Buffer): Promise<void>;
  close(): Promise<void>;
}

async function openProbe(port: number): Promise<Probe> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const probe: Probe = {
    socket,
    sentBytes: 0,
    sentDatagrams: 0,
    received: [],
    send: (data) =>
      new Promise((resolve, reject) =>
        socket.send(data, port, '127.0.0.1', (err) => {
          if (err) return reject(err);
          probe.sentBytes += data.length;
          probe.sentDatagrams += 1;
          resolve();
        }),
      ),
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
  socket.on('message', (message) => probe.received.push(message.length));
  return probe;
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 500));

/** RFC 5389 Binding Request with USERNAME, optionally a MESSAGE-INTEGRITY keyed with `key`, and FINGERPRINT. */
function stunBindingRequest(username: string, integrityKey: string | null): Buffer {
  const attribute = (type: number, value: Buffer) => {
    const padded = Buffer.alloc(Math.ceil(value.length / 4) * 4);
    value.copy(padded);
    const head = Buffer.alloc(4);
    head.writeUInt16BE(type, 0);
    head.writeUInt16BE(value.length, 2);
    return Buffer.concat([head, padded]);
  };
  const header = Buffer.alloc(20);
  header.writeUInt16BE(0x0001, 0);
  header.writeUInt32BE(0x2112a442, 4);
  randomBytes(12).copy(header, 8);
  let body = Buffer.concat([
    attribute(0x0006, Buffer.from(username)),
    attribute(0x0024, Buffer.from([0x6e, 0x00, 0x1e, 0xff])), // PRIORITY
    attribute(0x802a, randomBytes(8)), // ICE-CONTROLLING
  ]);
  if (integrityKey !== null) {
    header.writeUInt16BE(body.length + 24, 2);
    const mac = createHmac('sha1', integrityKey)
      .update(Buffer.concat([header, body]))
      .digest();
    body = Buffer.concat([body, attribute(0x0008, mac)]);
  }
  header.writeUInt16BE(body.length + 8, 2);
  const fingerprint = Buffer.alloc(4);
  fingerprint.writeUInt32BE((crc32(Buffer.concat([header, body])) ^ 0x5354554e) >>> 0);
  return Buffer.concat([header, body, attribute(0x8028, fingerprint)]);
}

/** A DTLS 1.2 ClientHello record (content type 22, version DTLS 1.0 on the record). */
function dtlsClientHello(): Buffer {
  const hello = Buffer.concat([
    Buffer.from([0xfe, 0xfd]),
    randomBytes(32),
    Buffer.from([0x00, 0x00]), // session id, cookie: empty
    Buffer.from([0x00, 0x04, 0xc0, 0x2b, 0xc0, 0x2f, 0x01, 0x00]),
  ]);
  const handshake = Buffer.concat([
    Buffer.from([0x01, 0x00, 0x00, hello.length, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, hello.length]),
    hello,
  ]);
  const record = Buffer.alloc(13);
  record[0] = 22;
  record.writeUInt16BE(0xfeff, 1);
  record.writeUInt16BE(handshake.length, 11);
  return Buffer.concat([record, handshake]);
}

// node-datachannel keeps the process alive until its native side is released, after every peer closed.
after(releaseNodeDataChannel);

test('media port abuse: garbage, floods, unauthenticated STUN and DTLS', { timeout: 180_000 }, async (t) => {
  const s = await bootAbuseServer(t);
  const bystanders = await startBystanders(t, s);
  const offer = bystanders.serverOffer();
  const serverUfrag = /a=ice-ufrag:(\S+)/.exec(offer)?.[1];
  assert.ok(serverUfrag, 'the server offer carries an ICE ufrag');
  assert.match(
    offer,
    new RegExp(`a=candidate:\\S+ 1 UDP \\d+ \\S+ ${s.rtcPort} typ host`, 'i'),
    'media on rtcPort',
  );

  await t.test(
    '10,000 random and truncated datagrams: no crash, no answer, video keeps flowing',
    async () => {
      const probe = await openProbe(s.rtcPort);
      const valid = [
        samples.rtpOneByteExtension(),
        samples.rtcpCompound(),
        stunBindingRequest(`${serverUfrag}:x`, null),
        dtlsClientHello(),
      ];
      const datagram = fc.oneof(
        fc.uint8Array({ maxLength: 1500 }).map((a) => Buffer.from(a)),
        fc
          .tuple(fc.constantFrom(...valid), fc.nat())
          .map(([base, cut]) => base.subarray(0, cut % (base.length + 1))),
        // First byte in each demultiplexing range of RFC 7983: STUN 0-3, DTLS 20-63, RTP/RTCP 128-191.
        fc
          .tuple(fc.constantFrom(0, 1, 20, 22, 23, 128, 129, 144, 191), fc.uint8Array({ maxLength: 300 }))
          .map(([first, rest]) => Buffer.concat([Buffer.from([first]), rest])),
      );
      const inputs = fc.sample(datagram, 10_000);
      const before = bystanders.packets();
      for (const input of inputs) await probe.send(input);
      await settle();
      console.log(
        `media garbage: ${probe.sentDatagrams} datagrams (${probe.sentBytes} bytes) sent, ${probe.received.length} answered; bystander got ${bystanders.packets() - before} packets meanwhile`,
      );
      assert.equal(probe.sentDatagrams, 10_000);
      assert.ok(
        probe.received.reduce((a, b) => a + b, 0) <= probe.sentBytes,
        'the server never sends more bytes than it received',
      );
      await probe.close();
      await bystanders.assertUnaffected();
    },
  );

  await t.test(
    'a flood of 10,000 packets in about a second from one client leaves the bystander receiving',
    async () => {
      const probe = await openProbe(s.rtcPort);
      const packet = samples.rtpOneByteExtension();
      const before = bystanders.packets();
      const started = Date.now();
      const sends: Promise<void>[] = [];
      for (let i = 0; i < 10_000; i++) {
        packet.writeUInt16BE(i & 0xffff, 2);
        sends.push(probe.send(Buffer.from(packet)));
        if (i % 1000 === 999) {
          await Promise.all(sends.splice(0));
          const elapsed = Date.now() - started;
          const due = ((i + 1) / 10_000) * 1000;
          if (elapsed < due) await new Promise((resolve) => setTimeout(resolve, due - elapsed));
        }
      }
      await Promise.all(sends);
      const seconds = (Date.now() - started) / 1000;
      await settle();
      const during = bystanders.packets() - before;
      console.log(
        `media flood: 10,000 packets in ${seconds.toFixed(2)} s (${Math.round(10_000 / seconds)}/s); bystander received ${during} packets meanwhile, ${probe.received.length} answers to the flooder`,
      );
      assert.equal(probe.received.length, 0, 'nothing answers an address that never did ICE');
      assert.ok(during > 0, 'the bystander kept receiving during the flood');
      await probe.close();
      await bystanders.assertUnaffected();
    },
  );

  await t.test(
    'STUN binding requests without or with a wrong MESSAGE-INTEGRITY: no amplification',
    async () => {
      const cases: [string, Buffer][] = [
        ['no MESSAGE-INTEGRITY', stunBindingRequest(`${serverUfrag}:mallory`, null)],
        ['wrong MESSAGE-INTEGRITY', stunBindingRequest(`${serverUfrag}:mallory`, 'not-the-ice-password')],
        ['unknown ufrag', stunBindingRequest('nobody:mallory', 'x')],
      ];
      for (const [name, request] of cases) {
        const probe = await openProbe(s.rtcPort);
        for (let i = 0; i < 50; i++) await probe.send(request);
        await settle();
        const largest = Math.max(0, ...probe.received);
        console.log(
          `stun ${name}: 50 requests of ${request.length} bytes, ${probe.received.length} answers, largest ${largest} bytes`,
        );
        assert.ok(
          largest <= request.length,
          `${name}: an answer of ${largest} bytes to a ${request.length}-byte request`,
        );
        assert.ok(probe.received.length <= 50, `${name}: at most one answer per request`);
        await probe.close();
      }
      await bystanders.assertUnaffected();
    },
  );

  await t.test('a DTLS ClientHello from an address that never completed ICE gets no answer', async () => {
    const probe = await openProbe(s.rtcPort);
    const hello = dtlsClientHello();
    for (let i = 0; i < 20; i++) await probe.send(hello);
    await settle();
    console.log(
      `dtls: 20 ClientHellos of ${hello.length} bytes from an unverified address, ${probe.received.length} answers`,
    );
    assert.equal(probe.received.length, 0);
    await probe.close();
    await bystanders.assertUnaffected();
  });
});
