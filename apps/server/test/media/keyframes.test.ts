/**
 * Keyframe requests: subscribers' PLI/FIR reach the publisher, throttled per producer, and a new
 * consumer gets a keyframe without waiting for the publisher's periodic one, nor for the throttle.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { LocalMediaPlane } from '@conclave/server/media/index';
import { publish, releaseNodeDataChannel, startPlane, subscribe } from './support.ts';

const THROTTLE_MS = 400;
let plane: LocalMediaPlane;
before(async () => {
  plane = await startPlane({ workers: 1, pliThrottleMs: THROTTLE_MS });
});
after(async () => {
  await plane.close();
  await releaseNodeDataChannel();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('a new consumer triggers a keyframe request and starts on a keyframe', async (t) => {
  const router = await plane.createRouter('kf-new-consumer');
  const pub = await publish(router, 'video');
  // No periodic keyframes: the only keyframes are the first one and the ones requested.
  pub.peer.start({ keyFrameIntervalMs: 0 });
  try {
    await sleep(500);
    const requestsBefore = pub.peer.stats.keyFrameRequests;
    const sub = await subscribe(router, [pub.producer.id]);
    const connectedAt = performance.now();
    try {
      await sub.peer.waitFor(() => (sub.peer.streamForMid('0')?.keyFrames ?? 0) >= 1, 3000, 'a keyframe');
      assert.ok(pub.peer.stats.keyFrameRequests > requestsBefore, 'the publisher was asked for a keyframe');
      const stream = sub.peer.streamForMid('0')!;
      assert.equal(stream.firstPacketAt, stream.firstKeyFrameAt, 'nothing is forwarded before the keyframe');
      const waitedMs = stream.firstKeyFrameAt - connectedAt;
      t.diagnostic(`first keyframe ${waitedMs.toFixed(0)} ms after the subscriber connected`);
      assert.ok(waitedMs < 1000, `first keyframe ${waitedMs.toFixed(0)} ms after connecting`);
    } finally {
      await sub.peer.close();
    }
  } finally {
    pub.peer.stop();
    await pub.peer.close();
    router.close();
  }
});

test('a consumer joining just after another gets its keyframe at once, not after the throttle', async (t) => {
  // A long throttle, so waiting for it (the old behaviour) is unmistakable.
  const LONG_THROTTLE_MS = 3000;
  const slowPlane = await startPlane({ workers: 1, pliThrottleMs: LONG_THROTTLE_MS });
  const router = await slowPlane.createRouter('kf-back-to-back');
  const pub = await publish(router, 'video');
  pub.peer.start({ keyFrameIntervalMs: 0 });
  const subs: Awaited<ReturnType<typeof subscribe>>[] = [];
  try {
    await sleep(500);
    const firstKeyFrame = async (name: string) => {
      const sub = await subscribe(router, [pub.producer.id], name);
      subs.push(sub);
      const connectedAt = performance.now();
      await sub.peer.waitFor(
        () => (sub.peer.streamForMid('0')?.keyFrames ?? 0) >= 1,
        5000,
        `${name}'s keyframe`,
      );
      return sub.peer.streamForMid('0')!.firstKeyFrameAt - connectedAt;
    };
    const bobWaited = await firstKeyFrame('bob');
    const eveWaited = await firstKeyFrame('eve');
    t.diagnostic(
      `first keyframe after connecting: bob ${bobWaited.toFixed(0)} ms, eve ${eveWaited.toFixed(0)} ms`,
    );
    assert.ok(eveWaited < 1000, `eve waited ${eveWaited.toFixed(0)} ms for her first keyframe`);
    const times = pub.peer.stats.keyFrameRequestTimes;
    const gap = times.at(-1)! - times.at(-2)!;
    // A browser publisher ignores a keyframe request within 300 ms of the last one.
    assert.ok(gap >= 290, `the two requests were ${gap.toFixed(0)} ms apart`);
  } finally {
    pub.peer.stop();
    await Promise.all([pub.peer.close(), ...subs.map((s) => s.peer.close())]);
    router.close();
    await slowPlane.close();
  }
});

test('a subscriber PLI and FIR reach the publisher', async () => {
  const router = await plane.createRouter('kf-pli');
  const pub = await publish(router, 'video');
  pub.peer.start({ keyFrameIntervalMs: 0 });
  const sub = await subscribe(router, [pub.producer.id]);
  try {
    await sub.peer.waitFor(() => (sub.peer.streamForMid('0')?.packets ?? 0) > 10, 5000, 'media');
    await sleep(THROTTLE_MS + 100);
    const before = pub.peer.stats.keyFrameRequests;
    const keyFramesBefore = sub.peer.streamForMid('0')!.keyFrames;
    sub.peer.sendPli('0');
    await sub.peer.waitFor(
      () => pub.peer.stats.keyFrameRequests === before + 1,
      2000,
      'PLI at the publisher',
    );
    await sub.peer.waitFor(
      () => sub.peer.streamForMid('0')!.keyFrames > keyFramesBefore,
      2000,
      'the keyframe',
    );

    await sleep(THROTTLE_MS + 100);
    sub.peer.sendFir('0');
    await sub.peer.waitFor(
      () => pub.peer.stats.keyFrameRequests === before + 2,
      2000,
      'FIR at the publisher',
    );
  } finally {
    pub.peer.stop();
    await Promise.all([pub.peer.close(), sub.peer.close()]);
    router.close();
  }
});

test('a burst of PLIs and FIRs from several subscribers is throttled per producer', async () => {
  const router = await plane.createRouter('kf-burst');
  const pub = await publish(router, 'video');
  pub.peer.start({ keyFrameIntervalMs: 0 });
  const subs = [
    await subscribe(router, [pub.producer.id], 'bob'),
    await subscribe(router, [pub.producer.id], 'eve'),
  ];
  try {
    for (const sub of subs)
      await sub.peer.waitFor(() => (sub.peer.streamForMid('0')?.packets ?? 0) > 10, 5000);
    await sleep(THROTTLE_MS + 100);
    const before = pub.peer.stats.keyFrameRequests;
    const start = performance.now();
    for (let i = 0; i < 20; i++) {
      for (const sub of subs) {
        sub.peer.sendPli('0');
        sub.peer.sendFir('0');
      }
    }
    await sleep(THROTTLE_MS * 2 + 100);
    const times = pub.peer.stats.keyFrameRequestTimes.filter((t) => t >= start);
    const received = pub.peer.stats.keyFrameRequests - before;
    // 40 PLIs and 40 FIRs within a few ms share one throttle: one request goes out at once, the
    // rest collapse into one at the end of the throttle interval.
    assert.ok(received >= 1 && received <= 2, `${received} keyframe requests reached the publisher`);
    if (times.length === 2)
      assert.ok(times[1]! - times[0]! >= THROTTLE_MS - 50, 'spaced by the throttle interval');
  } finally {
    pub.peer.stop();
    await Promise.all([pub.peer.close(), ...subs.map((s) => s.peer.close())]);
    router.close();
  }
});
