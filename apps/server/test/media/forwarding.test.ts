/**
 * Forwarding through real worker processes and real node-datachannel connections on loopback:
 * what a subscriber's browser would see on the wire.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { LocalMediaPlane } from '@conclave/server/media/index';
import { negotiate, nextEvent, publish, releaseNodeDataChannel, startPlane, subscribe } from './support.ts';

let plane: LocalMediaPlane;
before(async () => {
  plane = await startPlane({ workers: 1 });
});
after(async () => {
  await plane.close();
  await releaseNodeDataChannel();
});

test("a publisher's RTP reaches two subscribers with their own SSRC and continuous sequence numbers", async () => {
  const router = await plane.createRouter('forward-two');
  const pub = await publish(router, 'video', 'alice', { midExtension: true });
  pub.peer.start();
  const subs = [
    await subscribe(router, [pub.producer.id], 'bob'),
    await subscribe(router, [pub.producer.id], 'carol'),
  ];
  try {
    for (const sub of subs) {
      await sub.peer.waitFor(() => (sub.peer.streamForMid('0')?.packets ?? 0) >= 150, 10_000, '150 packets');
    }
    const [first, second] = subs.map((sub) => {
      assert.equal(sub.peer.streams.size, 1, 'one stream per consumer, whatever the source SSRC');
      const stream = sub.peer.streamForMid('0')!;
      assert.equal(stream.ssrc, sub.peer.offeredSsrcs.get('0'), 'packets carry the SSRC the offer declared');
      assert.notEqual(stream.ssrc, pub.peer.ssrc, "the publisher's SSRC never reaches a subscriber");
      assert.equal(stream.sequenceGaps, 0);
      assert.equal(stream.sequenceBackwards, 0);
      assert.equal(stream.timestampBackwards, 0);
      assert.equal(stream.largestTimestampStep, 3000, 'one frame at 30 fps is 3000 ticks');
      assert.deepEqual([...stream.payloadTypes], [96]);
      assert.equal(
        stream.firstKeyFrameAt,
        stream.firstPacketAt,
        'the first packet forwarded starts a keyframe',
      );
      assert.equal(stream.midExtensions, 0, "the publisher's mid header extension is stripped");
      return stream;
    });
    assert.notEqual(first!.ssrc, second!.ssrc);
    const stats = await subs[0]!.transport.getStats();
    assert.ok(stats.packetsSent >= 150);
    assert.ok(stats.bytesSent >= 150 * 1100);
    assert.equal(stats.dtlsState, 'connected');
  } finally {
    pub.peer.stop();
    await Promise.all([pub.peer.close(), ...subs.map((s) => s.peer.close())]);
    router.close();
  }
});

test('audio is forwarded with the payload type the subscriber negotiated', async () => {
  const router = await plane.createRouter('forward-audio');
  const pub = await publish(router, 'audio', 'alice', { payloadType: 109 });
  pub.peer.start();
  const sub = await subscribe(router, [pub.producer.id]);
  try {
    await sub.peer.waitFor(
      () => (sub.peer.streamForMid('0')?.packets ?? 0) >= 25,
      10_000,
      '25 audio packets',
    );
    const stream = sub.peer.streamForMid('0')!;
    assert.deepEqual([...stream.payloadTypes], [111], 'publisher PT 109 rewritten to the offered 111');
    assert.equal(stream.largestTimestampStep, 960);
    assert.equal(stream.sequenceGaps, 0);
  } finally {
    pub.peer.stop();
    await Promise.all([pub.peer.close(), sub.peer.close()]);
    router.close();
  }
});

test('a reused slot keeps sequence numbers and timestamps contiguous across a source change', async () => {
  const router = await plane.createRouter('forward-reuse');
  const first = await publish(router, 'video', 'alice');
  first.peer.start();
  const sub = await subscribe(router, [first.producer.id]);
  const second = await publish(router, 'video', 'dave', { payloadType: 100 });
  try {
    await sub.peer.waitFor(() => (sub.peer.streamForMid('0')?.packets ?? 0) >= 60, 10_000, 'first source');
    const closed = nextEvent(sub.transport, 'consumerclose');
    first.transport.close();
    const [endedConsumer] = await closed;
    assert.equal(endedConsumer, sub.consumers[0]!.consumerId, 'the consumer of the closed producer ends');
    await new Promise((resolve) => setTimeout(resolve, 300));
    const packetsBeforeSwitch = sub.peer.streamForMid('0')!.packets;

    second.peer.start();
    const consumer = await sub.transport.consume(second.producer.id);
    assert.equal(consumer.negotiationNeeded, false, 'an idle slot of the same kind is reused');
    assert.equal(consumer.mid, '0');
    await sub.peer.waitFor(
      () => sub.peer.streamForMid('0')!.packets >= packetsBeforeSwitch + 60,
      10_000,
      'second source',
    );
    const stream = sub.peer.streamForMid('0')!;
    assert.equal(sub.peer.streams.size, 1, 'the browser sees one stream, not two');
    assert.equal(stream.sequenceGaps, 0, 'sequence numbers continue with +1 across the switch');
    assert.equal(stream.sequenceBackwards, 0);
    assert.equal(stream.timestampBackwards, 0, 'timestamps keep increasing across the switch');
    // The pause was ~0.3-1 s: the timestamp advances by about that much (90 ticks per ms), not
    // by the unrelated distance between two publishers' random timestamp bases.
    assert.ok(stream.largestTimestampStep >= 300 * 90 * 0.5, `advance ${stream.largestTimestampStep}`);
    assert.ok(stream.largestTimestampStep <= 5000 * 90, `advance ${stream.largestTimestampStep}`);
    assert.deepEqual([...stream.payloadTypes], [96], 'publisher PT 100 rewritten to the slot PT');
  } finally {
    first.peer.stop();
    second.peer.stop();
    await Promise.all([first.peer.close(), second.peer.close(), sub.peer.close()]);
    router.close();
  }
});

test('a consume that needs a new media section renegotiates, and both sections receive', async () => {
  const router = await plane.createRouter('forward-renegotiate');
  const video = await publish(router, 'video', 'alice');
  const audio = await publish(router, 'audio', 'alice');
  video.peer.start();
  audio.peer.start();
  const sub = await subscribe(router, [video.producer.id]);
  try {
    const added = await sub.transport.consume(audio.producer.id);
    assert.equal(added.negotiationNeeded, true, 'no idle audio slot: a new section is needed');
    assert.equal(added.mid, '1');
    await negotiate(sub.transport, sub.peer);
    await sub.peer.waitFor(() => (sub.peer.streamForMid('1')?.packets ?? 0) >= 25, 10_000, 'audio on mid 1');
    const before = sub.peer.streamForMid('0')!.packets;
    await sub.peer.waitFor(
      () => sub.peer.streamForMid('0')!.packets > before + 30,
      10_000,
      'video continues',
    );
    assert.equal(sub.peer.streamForMid('0')!.sequenceGaps, 0, 'renegotiation does not disturb the video');
  } finally {
    video.peer.stop();
    audio.peer.stop();
    await Promise.all([video.peer.close(), audio.peer.close(), sub.peer.close()]);
    router.close();
  }
});
