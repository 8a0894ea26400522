/**
 * The pure parts of subscriber congestion control, driven with synthetic time: the layer cost the
 * allocator reads (layer-rates.ts) and the downlink estimate (downlink-estimator.ts). The same
 * logic runs end to end, through a bandwidth-capped proxy, in congestion-control.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FeedbackPacketStatus } from '@conclave/server/media/rtp/twcc';
import { DownlinkEstimator } from '@conclave/server/media/worker/downlink-estimator';
import { type AllocatableSlot, LayerAllocator } from '@conclave/server/media/worker/layer-allocator';
import { LayerRates } from '@conclave/server/media/worker/layer-rates';
import { NackResponder } from '@conclave/server/media/worker/nack-responder';
import { PacketCache } from '@conclave/server/media/worker/packet-cache';
import type { WorkerProducer } from '@conclave/server/media/worker/producer';
import { RetransmissionBudget } from '@conclave/server/media/worker/retransmission-budget';
import { TwccStamper } from '@conclave/server/media/worker/twcc-stamper';

/** 120 kbit/s: 30 packets of 500 bytes a second, as a low simulcast layer. */
function feedSteadyLayer(rates: LayerRates, fromMs: number, toMs: number): void {
  for (let t = fromMs; t < toMs; t += 1000 / 30) rates.add(0, 500);
}

test('a layer cost does not jump when a stalled worker receives a second and a half at once', () => {
  const rates = new LayerRates('video', 3);
  let now = 0;
  for (; now < 3000; now += 500) {
    feedSteadyLayer(rates, now, now + 500);
    rates.bitrate(0, now + 500);
  }
  // A 600 ms stall: nothing arrives, then all of it in the next window.
  now += 600;
  rates.bitrate(0, now);
  feedSteadyLayer(rates, now - 600, now + 1000);
  now += 1000;
  const afterBurst = rates.bitrate(0, now);
  assert.ok(afterBurst < 120_000 * 1.3, `cost after the burst ${Math.round(afterBurst)} bit/s (120k sent)`);
  assert.ok(afterBurst > 120_000 * 0.9, `cost after the burst ${Math.round(afterBurst)} bit/s (120k sent)`);
});

test('bytes that arrived before the allocator first asked do not count in the first second', () => {
  const rates = new LayerRates('video', 3);
  feedSteadyLayer(rates, 0, 2000); // the producer forwarded for 2 s before anyone asked
  rates.bitrate(0, 2000);
  feedSteadyLayer(rates, 2000, 3000);
  const first = rates.bitrate(0, 3000);
  assert.ok(Math.abs(first - 120_000) < 10_000, `first measured cost ${Math.round(first)} bit/s (120k sent)`);
});

test('a paused layer keeps the cost of resuming it, and an unseen one is assumed', () => {
  const rates = new LayerRates('video', 3);
  for (let now = 0; now < 3000; now += 1000) {
    feedSteadyLayer(rates, now, now + 1000);
    rates.bitrate(0, now + 1000);
  }
  for (let now = 3000; now <= 8000; now += 1000) rates.bitrate(0, now);
  const paused = rates.bitrate(0, 8000);
  assert.ok(Math.abs(paused - 120_000) < 5000, `a paused layer still costs ${Math.round(paused)} bit/s`);
  assert.ok(Math.abs(rates.bitrate(1, 8000) - 3 * paused) < 1, 'the layer above: three times the one below');
});

/** Sends `count` packets of `bytes` numbered by `stamper`, `gapMs` apart from `startMs`. */
function send(stamper: TwccStamper, count: number, bytes: number, startMs: number, gapMs: number): number[] {
  const numbers: number[] = [];
  for (let i = 0; i < count; i++) {
    numbers.push(stamper.nextSequence & 0xffff);
    stamper.stamp(Buffer.alloc(bytes), { twccAt: -1, twccHeaderBytes: 1 });
    stamper.sent(bytes + 8, startMs + i * gapMs);
  }
  return numbers;
}

/** Feedback reporting `numbers`, every `lostEvery`-th one lost (0: none), arriving `gapMs` apart. */
function feedback(numbers: number[], lostEvery: number, gapMs: number) {
  const packets: FeedbackPacketStatus[] = numbers.map((sequence, i) => ({
    sequence,
    deltaUs: lostEvery > 0 && i % lostEvery === 0 ? null : i === 0 ? 0 : gapMs * 1000,
  }));
  return {
    senderSsrc: 1,
    mediaSsrc: 0,
    baseSequence: numbers[0]!,
    referenceTime: 0,
    feedbackCount: 0,
    packets,
  };
}

test('the loss of packets sent before a decrease does not decrease the estimate again', () => {
  const stamper = new TwccStamper();
  stamper.enabled = true;
  const estimator = new DownlinkEstimator();
  // An overloaded link: half of what was sent is lost, reported over several feedback packets
  // that keep arriving after the first decrease (a round trip and a queue's drain).
  const overload = send(stamper, 200, 1000, 0, 2);
  estimator.onFeedback(feedback(overload.slice(0, 50), 2, 20), stamper, 100);
  estimator.onFeedback(feedback(overload.slice(50, 100), 2, 20), stamper, 300);
  assert.equal(estimator.signal, 'loss');
  const afterFirst = estimator.estimateBps;
  assert.ok(afterFirst < 1_000_000, 'the first window of loss decreased the estimate');
  estimator.onFeedback(feedback(overload.slice(100, 150), 2, 20), stamper, 500);
  estimator.onFeedback(feedback(overload.slice(150), 2, 20), stamper, 700);
  assert.equal(estimator.estimateBps, afterFirst, 'late reports of the old overload changed nothing');
  // Fresh loss, on packets sent after the decrease, does count (on the same link: what arrives
  // arrives 20 ms apart, 400 kbit/s, under the estimate; reported a second and a half later).
  const fresh = send(stamper, 60, 1000, 800, 10);
  estimator.onFeedback({ ...feedback(fresh, 2, 20), referenceTime: 24 }, stamper, 1400);
  assert.ok(estimator.estimateBps < afterFirst, 'new loss decreases it again');
});

test('retransmissions take at most a quarter of a constrained downlink, and anything of a free one', () => {
  const budget = new RetransmissionBudget();
  let sent = 0;
  for (let now = 0; now < 1000; now += 5) if (budget.take(1000, now)) sent++;
  assert.equal(sent, 200, 'an unconstrained downlink: every retransmission asked for');
  budget.setEstimate(300_000);
  sent = 0;
  for (let now = 1000; now < 3000; now += 5) if (budget.take(1000, now)) sent++;
  // 75 kbit/s for 2 s is 18.75 KB, plus a burst of 250 ms (2.3 KB) at the start.
  assert.ok(sent >= 18 && sent <= 22, `${sent} retransmissions of 1,000 bytes in 2 s at 300 kbit/s`);
  budget.setEstimate(Number.POSITIVE_INFINITY);
  assert.ok(budget.take(60_000, 3000), 'no limit once the estimate is unconstrained again');
});

/** A downlink bottleneck: FIFO at `linkBps`, tail drop beyond `queueBytes` waiting. */
interface Bottleneck {
  linkBps: number;
  queueBytes: number;
  freeAtMs: number;
}

/**
 * The SFU sends 1,000-byte packets at `sendBps` from `fromMs` to `toMs` through `link`; the
 * browser reports them in transport-cc feedback every 50 ms, arriving 20 ms after the link let
 * them through. Returns the time of the last report.
 */
function flow(
  estimator: DownlinkEstimator,
  stamper: TwccStamper,
  link: Bottleneck,
  fromMs: number,
  toMs: number,
  sendBps: number,
): number {
  const bytes = 1000;
  let chunk: { sequence: number; arrivalMs: number | null }[] = [];
  let reportAt = fromMs + 50;
  let now = fromMs;
  const report = () => {
    const first = chunk.find((p) => p.arrivalMs !== null);
    const referenceTime = first ? Math.floor(first.arrivalMs! / 64) : 0;
    let previous = referenceTime * 64;
    const packets: FeedbackPacketStatus[] = chunk.map(({ sequence, arrivalMs }) => {
      if (arrivalMs === null) return { sequence, deltaUs: null };
      const deltaUs = Math.round((arrivalMs - previous) * 1000);
      previous = arrivalMs;
      return { sequence, deltaUs };
    });
    now = Math.max(now, previous + 1);
    const baseSequence = chunk[0]!.sequence;
    estimator.onFeedback(
      { senderSsrc: 1, mediaSsrc: 0, baseSequence, referenceTime, feedbackCount: 0, packets },
      stamper,
      now,
    );
    chunk = [];
  };
  for (let t = fromMs; t < toMs; t += (bytes * 8000) / sendBps) {
    if (t >= reportAt && chunk.length > 0) {
      report();
      reportAt += 50;
    }
    const sequence = stamper.nextSequence & 0xffff;
    stamper.stamp(Buffer.alloc(bytes), { twccAt: -1, twccHeaderBytes: 1 });
    stamper.sent(bytes, t);
    const start = Math.max(t, link.freeAtMs);
    const waiting = ((start - t) * link.linkBps) / 8000;
    let arrivalMs: number | null = null;
    if (waiting + bytes <= link.queueBytes) {
      link.freeAtMs = start + (bytes * 8000) / link.linkBps;
      arrivalMs = link.freeAtMs + 20;
    }
    chunk.push({ sequence, arrivalMs });
  }
  if (chunk.length > 0) report();
  return now;
}

function numbered(): TwccStamper {
  const stamper = new TwccStamper();
  stamper.enabled = true;
  return stamper;
}

/** A 300 kbit/s link with a 250 ms queue, overloaded for a second: the estimate is constrained. */
function afterOverload() {
  const stamper = numbered();
  const estimator = new DownlinkEstimator();
  const link: Bottleneck = { linkBps: 300_000, queueBytes: 9375, freeAtMs: 0 };
  flow(estimator, stamper, link, 0, 1000, 200_000);
  const end = flow(estimator, stamper, link, 1000, 2000, 1_000_000);
  assert.ok(estimator.constrained, 'the overload constrained the estimate');
  return { stamper, estimator, link, end };
}

test('tail-drop loss while the SFU still sends too much does not take the estimate below what the link delivers', () => {
  const stamper = numbered();
  const estimator = new DownlinkEstimator();
  // 1 Mbit/s with a 250 ms queue; 2 Mbit/s sent for three seconds: half is dropped, and the link
  // delivers 1 Mbit/s all along. Halving the estimate window after window would end at the floor.
  const link: Bottleneck = { linkBps: 1_000_000, queueBytes: 31_250, freeAtMs: 0 };
  flow(estimator, stamper, link, 0, 1000, 600_000);
  flow(estimator, stamper, link, 1000, 4000, 2_000_000);
  assert.equal(estimator.signal, 'loss');
  assert.ok(
    estimator.estimateBps > 500_000,
    `estimate ${Math.round(estimator.estimateBps)} bit/s on a link delivering 1 Mbit/s`,
  );
});

test('a layer step up that the link carries is covered by the estimate at once', () => {
  const { stamper, estimator, link, end } = afterOverload();
  flow(estimator, stamper, link, end, end + 2000, 200_000);
  const before = estimator.estimateBps;
  assert.ok(before < 600_000, `constrained estimate ${Math.round(before)} bit/s`);
  // The cap is gone and the allocator moved up to a 1.2 Mbit/s layer: no queue, no loss.
  link.linkBps = 10_000_000;
  const t = end + 2000;
  flow(estimator, stamper, link, t, t + 1000, 1_200_000);
  assert.equal(estimator.signal, 'normal');
  assert.ok(
    estimator.estimateBps >= 1_100_000,
    `estimate ${Math.round(estimator.estimateBps)} bit/s after a second of 1.2 Mbit/s delivered`,
  );
});

test('an estimate held at its ceiling with no congestion for two seconds stops constraining', () => {
  const { stamper, estimator, link, end } = afterOverload();
  link.linkBps = 10_000_000;
  link.queueBytes = 1e9;
  // Only the low layer flows (200 kbit/s): the estimate grows to 2 x 200k + 500k and no further,
  // short of the next layers (often 3 to 5 times the one below); it must let the allocator try.
  let t = end;
  for (; t < end + 6000; t += 500) flow(estimator, stamper, link, t, t + 500, 200_000);
  assert.ok(estimator.constrained, 'still constrained while it grows');
  for (; t < end + 10_000 && estimator.constrained; t += 500)
    flow(estimator, stamper, link, t, t + 500, 200_000);
  assert.ok(!estimator.constrained, 'unconstrained again: the next upgrade is the probe');
  assert.ok(estimator.estimateBps >= 850_000, `estimate ${Math.round(estimator.estimateBps)} at its ceiling`);
});

test('with nothing sent (video paused, no audio) the estimate recovers without feedback', () => {
  const stamper = numbered();
  const estimator = new DownlinkEstimator();
  const link: Bottleneck = { linkBps: 300_000, queueBytes: 9375, freeAtMs: 0 };
  flow(estimator, stamper, link, 0, 1000, 200_000);
  const end = flow(estimator, stamper, link, 1000, 2000, 3_000_000);
  const paused = estimator.estimateBps;
  assert.ok(estimator.constrained && paused < 300_000, `constrained at ${Math.round(paused)} bit/s`);
  // The allocator paused the video: no packet, no feedback. The allocation timer calls onIdle.
  estimator.onIdle(stamper, end + 500);
  assert.equal(estimator.estimateBps, paused, 'half a second without sending is not idle yet');
  for (let t = end + 1000; t <= end + 5000; t += 500) estimator.onIdle(stamper, t);
  assert.equal(estimator.signal, 'normal', 'the overload of before no longer counts');
  assert.ok(
    estimator.estimateBps > 2 * paused,
    `estimate ${Math.round(estimator.estimateBps)} bit/s after 5 s idle (was ${Math.round(paused)}): a resume can be tried`,
  );
});

test('a NACK for a packet of a layer the slot no longer forwards is not answered', () => {
  const cache = new PacketCache(3);
  const responder = new NackResponder();
  const packet = (sequence: number) => {
    const p = Buffer.alloc(100);
    p[0] = 0x80;
    p[1] = 96;
    p.writeUInt16BE(sequence, 2);
    return p;
  };
  // Out sequence 10 came from the high layer, 11 from the low one after the switch down.
  cache.store(2, 500, packet(500), 0);
  responder.recordSent(10, 2, 500, 0, 0, 0);
  cache.store(0, 900, packet(900), 10);
  responder.recordSent(11, 0, 900, 0, 0, 0);
  const slot = { ssrc: 1234, payloadType: 96, vp8: false, currentLayer: 0 };
  const budget = new RetransmissionBudget();
  assert.equal(responder.retransmission(10, cache, slot, budget, 20), null, 'the old layer: refused');
  const resent = responder.retransmission(11, cache, slot, budget, 20);
  assert.ok(resent, 'the layer forwarded now: resent');
  assert.equal(resent.readUInt16BE(2), 11);
  assert.equal(responder.refused, 1);
});

/** A video slot of three simulcast layers costing 150 kbit/s, 500 kbit/s and 1.5 Mbit/s. */
function threeLayerSlot(): AllocatableSlot & { bandwidthLayer: number; preferredLayer: number } {
  const costs = [150_000, 500_000, 1_500_000];
  const producer = { layerCount: 3, rates: { bitrate: (layer: number) => costs[layer]! } };
  return {
    kind: 'video',
    producer: producer as unknown as WorkerProducer,
    preferredLayer: 2,
    bandwidthLayer: Number.MAX_SAFE_INTEGER,
    setBandwidthLayer(layer: number) {
      this.bandwidthLayer = layer;
    },
  };
}

/** Allocates every 500 ms from `fromMs` for `count` rounds; returns the slot's cap after each. */
function allocations(
  allocator: LayerAllocator,
  slot: AllocatableSlot,
  estimateBps: number,
  fromMs: number,
  count: number,
) {
  const caps: number[] = [];
  for (let i = 0; i < count; i++) {
    allocator.allocate(estimateBps, [slot], fromMs + i * 500);
    caps.push(slot.bandwidthLayer);
  }
  return caps;
}

test('once bandwidth held a video down, a released estimate raises it one layer per allocation', () => {
  // An estimate released after holding at its ceiling is a guess: jumping from the low layer to
  // the 1.5 Mbit/s one behind a 300 kbit/s link queued seconds of video and paused it (measured in
  // Chromium). One step at a time, each step is the probe.
  const allocator = new LayerAllocator();
  const slot = threeLayerSlot();
  assert.deepEqual(allocations(allocator, slot, 300_000, 0, 1), [0], 'the low layer fits 300 kbit/s');
  assert.deepEqual(allocations(allocator, slot, Number.POSITIVE_INFINITY, 10_000, 3), [1, 2, 2]);

  const paused = threeLayerSlot();
  assert.equal(allocations(allocator, paused, 100_000, 20_000, 6).at(-1), -1, 'paused below the floor');
  assert.deepEqual(allocations(allocator, paused, Number.POSITIVE_INFINITY, 30_000, 3), [0, 1, 2]);

  // A bounded estimate still decides how far: 700 kbit/s fits the middle layer, not the top one.
  const bounded = threeLayerSlot();
  allocations(allocator, bounded, 300_000, 40_000, 1);
  assert.deepEqual(allocations(allocator, bounded, 700_000, 50_000, 3), [1, 1, 1]);
});

test('a subscriber raising its own cap on a free link goes straight to the layer it asked for', () => {
  const allocator = new LayerAllocator();
  const slot = threeLayerSlot();
  slot.preferredLayer = 0;
  assert.deepEqual(allocations(allocator, slot, Number.POSITIVE_INFINITY, 0, 1), [0]);
  slot.preferredLayer = 2;
  assert.deepEqual(allocations(allocator, slot, Number.POSITIVE_INFINITY, 500, 1), [2]);
});

test('a video is paused only when its lowest layer has not fitted for two seconds', () => {
  // A failed probe's queue makes the estimate dip below the low layer for a moment; pausing on it
  // cost 4 s of video in Chromium. A link that stays too narrow still pauses.
  const allocator = new LayerAllocator();
  const slot = threeLayerSlot();
  assert.deepEqual(allocations(allocator, slot, 300_000, 0, 1), [0]);
  assert.deepEqual(allocations(allocator, slot, 100_000, 500, 2), [0, 0], 'a dip of 1 s keeps the low layer');
  assert.deepEqual(allocations(allocator, slot, 300_000, 1500, 1), [0]);
  assert.deepEqual(
    allocations(allocator, slot, 60_000, 2000, 6),
    [0, 0, 0, 0, -1, -1],
    'paused once the low layer has not fitted for 2 s',
  );
});
