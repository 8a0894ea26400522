/**
 * Network-level abuse of the media port (ICE UDP mux of the media worker) on the real server:
 * random and truncated datagrams, a flood of 10,000 packets, STUN binding requests without and
 * with a wrong MESSAGE-INTEGRITY, and a DTLS ClientHello from an address that never completed
 * ICE; then, through the impairment proxy, every SRTP packet of a publisher replayed (libsrtp's
 * replay window must keep the copies from subscribers), and a publisher at 30x a video rate with
 * 60,000-byte packets (media.maxPublishBitrate cuts it; nothing oversized is forwarded). The
 * server must stay up, answer nothing larger than what it was sent (no amplification), and a
 * subscribed bystander must keep receiving video throughout.
 */
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { after, test } from 'node:test';
import { crc32 } from 'node:zlib';
import { ImpairmentProxy } from '@conclave/server/media/testing/impairment-proxy';
import { releaseNodeDataChannel } from '@conclave/server/media/testing/rtp-peer';
import fc from 'fast-check';
import * as samples from '../../../../fuzz/seeds/samples.ts';
import { NodeClient } from '../support/node-client.ts';
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

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const settle = () => sleep(500);

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

/** media.maxPublishBitrate of the server under test (the default, set here explicitly). */
const MAX_PUBLISH_BITRATE = 10_000_000;

// node-datachannel keeps the process alive until its native side is released, after every peer closed.
after(releaseNodeDataChannel);

test('media port abuse: garbage, floods, unauthenticated STUN and DTLS, replayed SRTP, a publisher far above its rate', {
  timeout: 180_000,
}, async (t) => {
  const s = await bootAbuseServer(t, { media: { maxPublishBitrate: MAX_PUBLISH_BITRATE } });
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

  await t.test("replayed SRTP: a publisher's packets duplicated on the wire are delivered once", async () => {
    // An attacker on the path (the impairment proxy) replays every SRTP packet of carol's
    // connection: 20 ms later (inside libsrtp's replay window) and 1.5 s later (far behind it).
    const proxy = await ImpairmentProxy.start({ target: { address: '127.0.0.1', port: s.rtcPort } });
    t.after(() => proxy.close());
    const carol = await NodeClient.connect(s.url, bystanders.token('carol'), { sdpFilter: proxy.sdpFilter });
    const dave = await NodeClient.connect(s.url, bystanders.token('dave'));
    t.after(async () => {
      await carol.close();
      await dave.close();
    });
    const { streamId, peer: publisher } = await carol.publish({ kind: 'video' });
    const { mid, peer } = await dave.subscribe(streamId);
    await peer.waitFor(() => dave.packetsOn(mid) > 30, 15_000, "carol's video");
    const stream = () => {
      const found = peer.streamForMid(mid);
      assert.ok(found, 'dave receives carol');
      return found;
    };
    for (const duplicateDelayMs of [20, 1500]) {
      const sentBefore = publisher.stats.packetsSent;
      const receivedBefore = stream().packets;
      const repeatedBefore = stream().sequenceBackwards;
      const replayedBefore = proxy.counters('toServer').duplicated;
      proxy.configure('toServer', { duplicate: 1, duplicateDelayMs });
      await sleep(3000);
      proxy.configure('toServer', { duplicate: 0 });
      const sentWhileReplaying = publisher.stats.packetsSent - sentBefore;
      await sleep(duplicateDelayMs + 500);
      const sent = publisher.stats.packetsSent - sentBefore;
      const received = stream().packets - receivedBefore;
      const repeated = stream().sequenceBackwards - repeatedBefore;
      const replayed = proxy.counters('toServer').duplicated - replayedBefore;
      console.log(
        `media replay: ${replayed} SRTP packets replayed ${duplicateDelayMs} ms after the original; subscriber got ${received} packets of ${sent} sent, ${repeated} repeated`,
      );
      assert.ok(replayed >= sentWhileReplaying - 5, 'every packet carol sent meanwhile was replayed');
      assert.equal(repeated, 0, 'no sequence number delivered twice');
      assert.ok(Math.abs(received - sent) <= 5, `${received} delivered for ${sent} sent: no copy forwarded`);
    }
    await bystanders.assertUnaffected();
  });

  await t.test(
    'a publisher at 30x a video rate with oversized packets: others keep flowing, the server stays responsive',
    async () => {
      const mallory = await NodeClient.connect(s.url, bystanders.token('mallory'));
      t.after(() => mallory.close());
      const bob = bystanders.subscriber;
      const { streamId, peer: flooder } = await mallory.publish({
        kind: 'video',
        send: { packetsPerSecond: 4500 },
      });
      const { mid } = await bob.subscribe(streamId);
      const malloryAtBob = () => bob.subscriberPeer?.streamForMid(mid);
      await bob.until(
        () => (malloryAtBob()?.packets ?? 0) > 0 || undefined,
        15_000,
        "mallory's first packets",
      );
      await sleep(1500); // past the cap's one second of burst
      const oversized = Buffer.alloc(60_000, 0x55);
      oversized.set([0x80, 96], 0);
      oversized.writeUInt32BE(flooder.ssrc, 8);
      const before = {
        alice: bystanders.received(),
        mallory: { ...malloryAtBob()! },
        sent: flooder.stats.packetsSent,
      };
      const started = performance.now();
      const signalTimes: number[] = [];
      let oversizedSent = 0;
      while (performance.now() - started < 5000) {
        for (let i = 0; i < 10; i++) {
          oversized.writeUInt16BE((flooder.stats.lastSequence + 1 + i) & 0xffff, 2);
          if (flooder.sendRtp(oversized)) oversizedSent++;
        }
        const pingAt = performance.now();
        await s.assertHealthy();
        signalTimes.push(performance.now() - pingAt);
        await sleep(200);
      }
      const seconds = (performance.now() - started) / 1000;
      flooder.stop();
      await sleep(500);
      const alice = bystanders.received();
      const aliceGot = alice.packets - before.alice.packets;
      const aliceMissed = alice.sequenceGaps - before.alice.sequenceGaps;
      const malloryNow = malloryAtBob()!;
      const sent = flooder.stats.packetsSent - before.sent;
      const malloryPackets = malloryNow.packets - before.mallory.packets;
      const malloryBytes = malloryNow.bytes - before.mallory.bytes;
      const malloryMbps = (malloryBytes * 8) / seconds / 1e6;
      const sentMbps = (sent * 1100 * 8) / seconds / 1e6;
      const slowest = Math.max(...signalTimes);
      console.log(
        `media overrate: publisher sent ${sent} packets (${Math.round(sent / seconds)}/s, ${sentMbps.toFixed(1)} Mbit/s) and ${oversizedSent} of 60,000 bytes; the SFU forwarded ${malloryMbps.toFixed(1)} Mbit/s of it to a subscriber (${malloryPackets} packets, ${Math.round(malloryBytes / Math.max(1, malloryPackets))} bytes on average; cap ${MAX_PUBLISH_BITRATE / 1e6} Mbit/s); bystander video ${aliceGot} packets, ${aliceMissed} missing (${((100 * aliceMissed) / (aliceGot + aliceMissed)).toFixed(2)}%); /healthz slowest ${slowest.toFixed(0)} ms`,
      );
      assert.ok(aliceGot > 0.8 * 150 * seconds, 'the bystander video keeps its rate');
      assert.ok(aliceMissed <= 0.02 * (aliceGot + aliceMissed), 'the bystander video loses under 2%');
      assert.ok(slowest < 2000, 'REST stays responsive');
      // The cap's bucket holds one second: over a window of W seconds at most (W + 1) seconds'
      // worth passes (a publisher stalled by a loaded machine refills it), 1.2x for W = 5.
      assert.ok(malloryMbps * 1e6 <= MAX_PUBLISH_BITRATE * 1.25, 'the SFU forwards no more than the cap');
      assert.ok(
        malloryMbps * 1e6 >= MAX_PUBLISH_BITRATE * 0.5,
        'the abusive stream is cut to the cap, not cut off',
      );
      // Each forwarded packet gains the 8-byte transport-cc extension block the SFU stamps for the
      // subscriber's congestion control; a single 60,000-byte packet would add 10 to the average.
      assert.ok(
        malloryBytes <= malloryPackets * (1100 + 8),
        `no oversized packet reached the subscriber (${malloryBytes} bytes in ${malloryPackets} packets)`,
      );
      await bystanders.assertUnaffected();
    },
  );
});
