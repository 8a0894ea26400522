/**
 * The pure parts of subscriber congestion control, driven with synthetic time: the layer cost the
 * allocator reads (layer-rates.ts) and the downlink estimate (downlink-estimator.ts). The same
 * logic runs end to end, through a bandwidth-capped proxy, in congestion-control.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FeedbackPacketStatus } from '@conclave/server/media/rtp/twcc';
import { DownlinkEstimator } from '@conclave/server/media/worker/downlink-estimator';
import { LayerRates } from '@conclave/server/media/worker/layer-rates';
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
  // Fresh loss, on packets sent after the decrease, does count.
  const fresh = send(stamper, 60, 1000, 800, 5);
  estimator.onFeedback(feedback(fresh, 2, 5), stamper, 1200);
  assert.ok(estimator.estimateBps < afterFirst, 'new loss decreases it again');
});
