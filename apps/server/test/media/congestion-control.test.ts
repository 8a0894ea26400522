/**
 * Subscriber congestion control: a synthetic simulcast publisher (three SSRCs with rids, low
 * ~130, medium ~350, high ~1,000 kbit/s) and a small-packet audio publisher; a node-datachannel
 * subscriber that sends transport-cc feedback receives both through the impairment proxy, whose
 * downlink bandwidth cap is changed during the call. The SFU must pick the layer that fits, pause
 * the video when even the low layer does not fit while audio goes on, and come back when the cap
 * is lifted.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { SubscriberTransport } from '@conclave/server/media/api';
import { ImpairmentProxy, stripClientCandidates } from '@conclave/server/media/testing/impairment-proxy';
import {
  createSimulcastPublisherPeer,
  createSubscriberPeer,
  waitFor,
} from '@conclave/server/media/testing/rtp-peer';
import { TwccStamper } from '@conclave/server/media/worker/twcc-stamper';
import { publish, releaseNodeDataChannel, startPlane } from './support.ts';

after(releaseNodeDataChannel);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A router queue of ~250 ms at the cap: a real bottleneck's buffer, not the proxy's default 64 KB. */
const cap = (bps: number) => ({ bandwidthBps: bps, queueBytes: Math.max(4000, Math.round(bps / 32)) });
const UNCAPPED = { bandwidthBps: 0, queueBytes: 64 * 1024 };

async function downlink(transport: SubscriberTransport, consumerId: string) {
  const stats = await transport.getDownlinkStats();
  return { ...stats, consumer: stats.consumers.find((c) => c.consumerId === consumerId) };
}

async function pollDownlink(
  transport: SubscriberTransport,
  consumerId: string,
  done: (s: Awaited<ReturnType<typeof downlink>>) => boolean,
  timeoutMs: number,
  what: string,
) {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const stats = await downlink(transport, consumerId);
    if (done(stats)) return stats;
    if (performance.now() > deadline) {
      throw new Error(`timed out waiting for ${what}: ${JSON.stringify({ ...stats, consumers: undefined })}`);
    }
    await sleep(200);
  }
}

test('the SFU forwards the layer a subscriber downlink carries, and audio alone when video does not fit', {
  timeout: 240_000,
}, async (t) => {
  const plane = await startPlane({ workers: 1 });
  const port = plane.workers()[0]!.port;
  const proxy = await ImpairmentProxy.start({ target: { address: '127.0.0.1', port } });
  const router = await plane.createRouter('congestion');
  const video = await createSimulcastPublisherPeer({
    layers: [
      { rid: 'q', packetsPerSecond: 30, packetBytes: 500, keyFrameIntervalMs: 2000 },
      { rid: 'h', packetsPerSecond: 60, packetBytes: 700, keyFrameIntervalMs: 2000 },
      { rid: 'f', packetsPerSecond: 120, packetBytes: 1000, keyFrameIntervalMs: 2000 },
    ],
  });
  const videoTransport = await router.createPublisherTransport({
    participantId: 'alice',
    source: 'camera',
    kind: 'video',
    offerSdp: video.offer,
  });
  await video.setAnswer(videoTransport.answerSdp);
  video.start();
  const audio = await publish(router, 'audio', 'alice');
  audio.peer.start({ packetBytes: 60 });

  const peer = await createSubscriberPeer({ transportFeedback: true });
  const transport = await router.createSubscriberTransport({ participantId: 'bob' });
  const videoConsumer = await transport.consume(videoTransport.transport.producer.id);
  const audioConsumer = await transport.consume(audio.producer.id);
  const pauses: boolean[] = [];
  transport.on('consumerpause', (consumerId, paused) => {
    if (consumerId === videoConsumer.consumerId) pauses.push(paused);
  });
  const offer = await transport.createOffer();
  assert.match(offer, /a=extmap:\d+ http:\/\/www\.ietf\.org\/id\/draft-holmer-rmcat-transport-wide-cc/);
  await transport.setAnswer(stripClientCandidates(await peer.answer(proxy.rewriteServerSdp(offer))));
  await peer.connected();
  t.after(async () => {
    await peer.close();
    await video.close();
    await audio.peer.close();
    await proxy.close();
    await plane.close();
  });

  const stream = (mid: string) => peer.streamForMid(mid);
  await peer.waitFor(() => (stream(videoConsumer.mid)?.keyFrames ?? 0) > 0, 15_000, 'first video keyframe');
  const open = await pollDownlink(
    transport,
    videoConsumer.consumerId,
    (s) => s.consumer?.layer === 2,
    20_000,
    'the high layer, uncapped',
  );
  t.diagnostic(`uncapped: high layer, acked ${open.ackedBps} bit/s, estimate ${open.estimateBps}`);

  await t.test('at a 300 kbit/s cap the low layer is forwarded', async () => {
    proxy.configure('toClient', cap(300_000));
    const low = await pollDownlink(
      transport,
      videoConsumer.consumerId,
      (s) => s.consumer?.layer === 0 && s.consumer.wantedLayer === 0,
      30_000,
      'the low layer under a 300 kbit/s cap',
    );
    t.diagnostic(`300k cap: estimate ${low.estimateBps}, acked ${low.ackedBps}, signal ${low.signal}`);
    assert.ok(
      low.estimateBps !== null && low.estimateBps < 450_000,
      `estimate ${low.estimateBps} under the cap's reach`,
    );
    const before = stream(videoConsumer.mid)!.packets;
    await sleep(2000);
    const flowed = stream(videoConsumer.mid)!.packets - before;
    assert.ok(flowed > 30, `the low layer keeps flowing: ${flowed} packets in 2 s (30/s sent)`);
    assert.ok(!pauses.includes(true), 'video was never paused at 300 kbit/s');
  });

  await t.test('lifting the cap brings the high layer back', async () => {
    proxy.configure('toClient', UNCAPPED);
    const high = await pollDownlink(
      transport,
      videoConsumer.consumerId,
      (s) => s.consumer?.layer === 2,
      45_000,
      'the high layer after lifting the cap',
    );
    t.diagnostic(`cap lifted: estimate ${high.estimateBps}, acked ${high.ackedBps}`);
  });

  await t.test(
    'at a 60 kbit/s cap video pauses and audio continues; lifting the cap resumes video',
    async () => {
      proxy.configure('toClient', cap(60_000));
      await waitFor(() => pauses.at(-1) === true, 30_000, 'video paused');
      const paused = await downlink(transport, videoConsumer.consumerId);
      t.diagnostic(`60k cap: paused, estimate ${paused.estimateBps}, acked ${paused.ackedBps}`);
      const audioBefore = stream(audioConsumer.mid)!.packets;
      await sleep(3000);
      const audioPackets = stream(audioConsumer.mid)!.packets - audioBefore;
      assert.ok(
        audioPackets >= 100,
        `audio goes on while video is paused: ${audioPackets} packets in 3 s (50/s sent)`,
      );

      proxy.configure('toClient', UNCAPPED);
      await waitFor(() => pauses.at(-1) === false, 45_000, 'video resumed');
      const videoBefore = stream(videoConsumer.mid)!;
      const keyFramesBefore = videoBefore.keyFrames;
      await peer.waitFor(
        () => stream(videoConsumer.mid)!.keyFrames > keyFramesBefore,
        10_000,
        'a keyframe after resuming',
      );
      assert.equal(stream(videoConsumer.mid)!.sequenceBackwards, 0, 'sequence numbers never went backwards');
    },
  );
});

test('TwccStamper numbers packets in place or inserts the element, and finds them again', () => {
  const stamper = new TwccStamper();
  stamper.enabled = true;
  const bare = Buffer.alloc(40, 0x55);
  bare[0] = 0x80;
  const out = stamper.stamp(bare, { twccAt: -1, twccHeaderBytes: 1 });
  assert.equal(out.length, 48, 'one extension block added');
  assert.equal(out[0]! & 0x10, 0x10, 'X bit set');
  assert.deepEqual([...out.subarray(12, 20)], [0xbe, 0xde, 0, 1, 0x51, 0, 0, 0]);
  assert.deepEqual([...out.subarray(20)], [...bare.subarray(12)], 'payload kept');
  stamper.sent(out.length, 1000);
  const withBlock = Buffer.alloc(40, 0x55);
  withBlock[0] = 0x90;
  withBlock.set([0xbe, 0xde, 0, 1, 0x40, 0x30, 0, 0], 12);
  const extended = stamper.stamp(withBlock, { twccAt: -1, twccHeaderBytes: 1 });
  assert.deepEqual([...extended.subarray(12, 24)], [0xbe, 0xde, 0, 2, 0x40, 0x30, 0, 0, 0x51, 0, 1, 0]);
  stamper.sent(extended.length, 1001);
  assert.equal(stamper.unwrap(1), 1);
  assert.equal(stamper.sentAt(stamper.unwrap(0)), 1000);
  assert.equal(stamper.unwrap(5), -1, 'a number never sent');
});
