/**
 * Chromium end to end through the impairment proxy (issue 4, "How it is shown"): the real server,
 * the real SDK in two browser contexts, and a UDP proxy between the subscriber and the SFU that
 * caps or loses what the subscriber receives.
 *
 * The publisher sends a moving canvas with some detail (40 coloured squares over a changing
 * background): Chromium's default three layers then cost about 150-200 kbit/s, 350-600 kbit/s and
 * 1-1.6 Mbit/s, like a camera, so a 300 kbit/s downlink carries the low layer only. (The harness's
 * plain canvas needs 130 kbit/s even at 1280x720 and would fit through the cap as it is.) Alice
 * publishes straight to the SFU; only Bob's media goes through the proxy.
 */
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import {
  delay,
  eventually,
  openParticipant,
  type Participant,
  requireChromium,
  startBehindProxy,
} from './support.ts';

/** Bob's inbound video as sampled in the page every 100 ms. */
interface Sample {
  at: number;
  frameWidth: number;
  framesDecoded: number;
  totalFreezesDuration: number;
}

interface PageWindow {
  harness: {
    Conclave: {
      Session: { connect(...args: unknown[]): Promise<unknown> };
      Subscriber: { prototype: { setPaused(paused: boolean): void } };
    };
    received(): Promise<(Sample & { streamId: string })[]>;
  };
  __session: { publish(options: unknown): Promise<{ streamIds: string[] }> };
  __pauses: { at: number; paused: boolean }[];
  __samples: Sample[];
}

/**
 * Keeps the page's Session (to publish a track of the test's own) and records every
 * streamPaused/streamResumed the SDK applies (the audio-only fallback).
 */
async function instrument(participant: Participant): Promise<void> {
  await participant.page.evaluate(() => {
    const w = window as unknown as PageWindow;
    const { Session, Subscriber } = w.harness.Conclave;
    const connect = Session.connect;
    Session.connect = async function (this: unknown, ...args: unknown[]) {
      const session = await connect.apply(this, args);
      w.__session = session as PageWindow['__session'];
      return session;
    };
    w.__pauses = [];
    const setPaused = Subscriber.prototype.setPaused;
    Subscriber.prototype.setPaused = function (this: unknown, paused: boolean) {
      w.__pauses.push({ at: performance.now(), paused });
      return setPaused.call(this, paused);
    };
  });
}

/** Publishes a 1280x720 canvas with some detail as the camera (default simulcast: three layers). */
async function publishDetailedCamera(participant: Participant): Promise<string> {
  const streamIds = await participant.page.evaluate(async () => {
    const w = window as unknown as PageWindow;
    const [width, height] = [1280, 720];
    const canvas = document.createElement('canvas');
    canvas.width = width;
    canvas.height = height;
    const ctx = canvas.getContext('2d')!;
    let frame = 0;
    setInterval(() => {
      frame++;
      ctx.fillStyle = `hsl(${(frame * 7) % 360} 80% 50%)`;
      ctx.fillRect(0, 0, width, height);
      for (let i = 0; i < 40; i++) {
        ctx.fillStyle = `hsl(${(i * 37 + frame * 13) % 360} 90% ${(i * 11) % 100}%)`;
        ctx.fillRect((i * 97 + frame * 5) % width, (i * 61 + frame * 3) % height, 48, 48);
      }
    }, 33);
    const track = canvas.captureStream(30).getVideoTracks()[0];
    return (await w.__session.publish({ video: track, name: 'Alice' })).streamIds;
  });
  return streamIds[0]!;
}

async function startSampler(participant: Participant, streamId: string): Promise<void> {
  await participant.page.evaluate((id) => {
    const w = window as unknown as PageWindow;
    w.__samples = [];
    setInterval(async () => {
      const video = (await w.harness.received()).find((r) => r.streamId === id);
      if (!video) return;
      const { frameWidth, framesDecoded, totalFreezesDuration } = video;
      w.__samples.push({ at: performance.now(), frameWidth, framesDecoded, totalFreezesDuration });
    }, 100);
  }, streamId);
}

const samplesOf = (p: Participant) => p.page.evaluate(() => (window as unknown as PageWindow).__samples);
const pausesOf = (p: Participant) => p.page.evaluate(() => (window as unknown as PageWindow).__pauses);
const pageNow = (p: Participant) => p.page.evaluate(() => performance.now());
async function lastSample(p: Participant): Promise<Sample | undefined> {
  return p.page.evaluate(() => (window as unknown as PageWindow).__samples.at(-1));
}

/** Layer of a decoded frame width from a 1280-wide publisher: 320, 640, 1280. */
const layerOf = (width: number) => (width === 0 ? -1 : width <= 400 ? 0 : width <= 800 ? 1 : 2);

/** A router queue of ~250 ms at the cap, as in congestion-control.test.ts. */
const cap = (bps: number) => ({ bandwidthBps: bps, queueBytes: Math.max(4000, Math.round(bps / 32)) });
const UNCAPPED = { bandwidthBps: 0, queueBytes: 64 * 1024 };

interface Switch {
  at: number;
  from: number;
  to: number;
  /** Freeze time that ended between the last sample of the old layer and the first of the new. */
  frozen: number;
}

function switchesIn(samples: Sample[]): Switch[] {
  const out: Switch[] = [];
  for (let i = 1; i < samples.length; i++) {
    const [before, after] = [samples[i - 1]!, samples[i]!];
    if (layerOf(before.frameWidth) === layerOf(after.frameWidth)) continue;
    out.push({
      at: after.at,
      from: before.frameWidth,
      to: after.frameWidth,
      frozen: after.totalFreezesDuration - before.totalFreezesDuration,
    });
  }
  return out;
}

/** Frames decoded per second over each second of `samples` from `from`, as `width/fps` strings. */
function timeline(samples: Sample[], from: number): string {
  const out: string[] = [];
  for (let i = 10; i < samples.length; i += 10) {
    const [a, b] = [samples[i - 10]!, samples[i]!];
    out.push(`${Math.round((b.at - from) / 1000)}s:${b.frameWidth}/${b.framesDecoded - a.framesDecoded}`);
  }
  return out.join(' ');
}

/**
 * Alice publishes straight to the SFU; Bob (a subscriber) receives through the proxy. Resolves
 * once Bob decodes Alice's video.
 */
async function startCall(t: TestContext) {
  const { env, proxy, browser } = await startBehindProxy(t);
  const sessionId = (await env.createSession({ mediaMode: 'routed' })).id;
  const token = (identity: string, role: 'publisher' | 'subscriber') =>
    env.sdk.createToken(sessionId, { role, identity, data: '{}' });
  const alice = await openParticipant(browser, env.url);
  await instrument(alice);
  const aliceJoined = await alice.call<{ error?: string }>('join', token('alice', 'publisher'), {
    sessionId,
  });
  assert.equal(aliceJoined.error, undefined);
  const streamId = await publishDetailedCamera(alice);
  const bob = await openParticipant(browser, env.url, { mediaRoute: proxy.route });
  await instrument(bob);
  const bobJoined = await bob.call<{ error?: string }>('join', token('bob', 'subscriber'), { sessionId });
  assert.equal(bobJoined.error, undefined);
  await startSampler(bob, streamId);
  await eventually(
    'Bob decodes Alice',
    () => lastSample(bob),
    (s) => !!s && s.framesDecoded > 10,
    30_000,
  );
  return { proxy, alice, bob, streamId };
}

test('at a 300 kbit/s downlink cap the subscriber gets the low layer, and the high one within 10 s of the cap lifting', {
  timeout: 300_000,
}, async (t) => {
  if (!requireChromium(t)) return;
  const { proxy, bob } = await startCall(t);
  const start = await pageNow(bob);
  await eventually(
    'the high layer, uncapped',
    () => lastSample(bob),
    (s) => !!s && s.frameWidth >= 960,
    60_000,
  );
  await delay(3000);

  proxy.configure('toClient', cap(300_000));
  const capAt = await pageNow(bob);
  const low = await eventually(
    'the low layer under the cap',
    () => lastSample(bob),
    (s) => !!s && s.at > capAt && s.frameWidth > 0 && s.frameWidth <= 400,
    30_000,
  );
  t.diagnostic(`300k cap: low layer (${low!.frameWidth} wide) after ${Math.round(low!.at - capAt)} ms`);
  await delay(Math.max(0, capAt + 15_000 - (await pageNow(bob))));
  const capEnd = (await lastSample(bob))!;
  const decodedUnderCap = capEnd.framesDecoded - low!.framesDecoded;
  const capSeconds = (capEnd.at - low!.at) / 1000;
  t.diagnostic(
    `under the cap: ${decodedUnderCap} frames decoded in ${capSeconds.toFixed(1)} s after the low layer came`,
  );
  assert.ok(decodedUnderCap > 3 * capSeconds, `frames keep decoding under the cap: ${decodedUnderCap}`);

  proxy.configure('toClient', UNCAPPED);
  const liftAt = await pageNow(bob);
  const high = await eventually(
    'the high layer after the cap lifted',
    () => lastSample(bob),
    (s) => !!s && s.at > liftAt && s.frameWidth >= 960,
    60_000,
  );
  await delay(3000);
  const samples = await samplesOf(bob);
  const climbMs = samples.find((s) => s.at > liftAt && s.frameWidth >= 960)!.at - liftAt;
  t.diagnostic(`cap lifted: high layer (${high!.frameWidth} wide) after ${Math.round(climbMs)} ms`);
  t.diagnostic(`timeline from the cap (second:width/frames): ${timeline(samples, capAt)}`);

  const switches = switchesIn(samples.filter((s) => s.at > start));
  for (const s of switches) {
    const when = s.at < capAt ? 'before the cap' : s.at < liftAt ? 'under the cap' : 'after the lift';
    t.diagnostic(
      `switch ${s.from} -> ${s.to} ${when} (${Math.round(s.at - capAt)} ms from the cap): froze ${s.frozen.toFixed(3)} s`,
    );
  }
  const pauses = await pausesOf(bob);
  assert.deepEqual(pauses, [], 'the audio-only fallback never paused the video at 300 kbit/s');
  // A switch up (the link carries the old layer) must not freeze the picture. A switch down forced
  // by the cap or by a failed probe ends a freeze the congestion caused before it: printed above.
  const ups = switches.filter((s) => s.to > s.from);
  assert.ok(
    ups.some((s) => s.at > liftAt),
    'the climb after the lift is a switch seen in the samples',
  );
  for (const s of ups) {
    assert.ok(s.frozen < 0.5, `switch ${s.from} -> ${s.to} froze the picture for ${s.frozen.toFixed(3)} s`);
  }
  assert.ok(climbMs <= 10_000, `the high layer came back ${Math.round(climbMs)} ms after the cap lifted`);
});

type Stats = Record<string, unknown>;

/** Bob's inbound-rtp statistics of the video. */
async function inboundVideo(bob: Participant) {
  const { subscriber } = await bob.call<{ subscriber: Stats[] }>('stats');
  const rtp = subscriber.find((s) => s.type === 'inbound-rtp' && s.kind === 'video') ?? {};
  const n = (name: string) => Number(rtp[name] ?? 0);
  return {
    framesDecoded: n('framesDecoded'),
    frameWidth: n('frameWidth'),
    packetsReceived: n('packetsReceived'),
    packetsLost: n('packetsLost'),
    nackCount: n('nackCount'),
    retransmittedPacketsReceived: n('retransmittedPacketsReceived'),
    freezeCount: n('freezeCount'),
    totalFreezesDuration: n('totalFreezesDuration'),
  };
}

test('at 10% random loss on the downlink video keeps decoding: the SFU answers the NACKs', {
  timeout: 240_000,
}, async (t) => {
  if (!requireChromium(t)) return;
  const { proxy, bob } = await startCall(t);
  await eventually(
    'steady decoding',
    () => lastSample(bob),
    (s) => !!s && s.framesDecoded > 60,
    60_000,
  );
  const before = await inboundVideo(bob);
  const lostBefore = proxy.counters('toClient').dropped;
  proxy.configure('toClient', { loss: 0.1 });
  const from = await pageNow(bob);
  await delay(10_000);
  const after = await inboundVideo(bob);
  const seconds = ((await pageNow(bob)) - from) / 1000;
  const dropped = proxy.counters('toClient').dropped - lostBefore;
  const d = (name: keyof typeof after) => after[name] - before[name];
  t.diagnostic(
    `10% loss for ${seconds.toFixed(1)} s: proxy dropped ${dropped} datagrams; Bob decoded ${d('framesDecoded')} frames (${(d('framesDecoded') / seconds).toFixed(1)}/s, now ${after.frameWidth} wide), sent ${d('nackCount')} NACKs, received ${d('retransmittedPacketsReceived')} retransmissions, packetsLost ${d('packetsLost')} of ${d('packetsReceived')} received, ${d('freezeCount')} freezes for ${d('totalFreezesDuration').toFixed(3)} s`,
  );
  assert.ok(dropped > 50, `the proxy lost packets toward Bob: ${dropped}`);
  assert.ok(d('framesDecoded') > 5 * seconds, `video keeps decoding: ${d('framesDecoded')} frames`);
  assert.ok(d('nackCount') > 0, 'Bob asked for the lost packets');
  assert.ok(d('retransmittedPacketsReceived') > 0, 'the SFU resent them');
  assert.ok(
    d('totalFreezesDuration') < 0.3 * seconds,
    `freezes stay short: ${d('totalFreezesDuration').toFixed(3)} s`,
  );
  assert.deepEqual(await pausesOf(bob), [], 'the video was never paused');
});

/** Bytes Alice has sent of each simulcast encoding, by rid. */
async function bytesSentByRid(alice: Participant): Promise<Record<string, number>> {
  const { publishers } = await alice.call<{ publishers: { stats: Stats[] }[] }>('stats');
  const out: Record<string, number> = {};
  for (const s of publishers.flatMap((p) => p.stats)) {
    if (s.type === 'outbound-rtp' && typeof s.rid === 'string') out[s.rid] = Number(s.bytesSent ?? 0);
  }
  return out;
}

test('dynacast: when the only subscriber caps to the low layer Chromium stops encoding the top one, and restarts it for high', {
  timeout: 240_000,
}, async (t) => {
  if (!requireChromium(t)) return;
  const { alice, bob, streamId } = await startCall(t);
  await eventually(
    'the high layer',
    () => lastSample(bob),
    (s) => !!s && s.frameWidth >= 960,
    60_000,
  );
  /** Bytes of rid f sent over two seconds. */
  const topLayerSending = async () => {
    const a = await bytesSentByRid(alice);
    await delay(2000);
    const b = await bytesSentByRid(alice);
    return (b.f ?? 0) - (a.f ?? 0);
  };
  const sendingHigh = await topLayerSending();
  assert.ok(sendingHigh > 50_000, `rid f sends while Bob receives it: ${sendingHigh} bytes in 2 s`);

  assert.deepEqual(await bob.call('setPreferredLayer', streamId, 'low'), { ok: true });
  const lowAt = Date.now();
  await eventually('rid f paused at the publisher', topLayerSending, (bytes) => bytes === 0, 30_000);
  t.diagnostic(
    `rid f stopped within ${Date.now() - lowAt} ms of Bob asking for 'low' (sent ${sendingHigh} bytes in 2 s before)`,
  );
  const small = await lastSample(bob);
  assert.ok(small && small.frameWidth <= 400, `Bob receives the low layer: ${small?.frameWidth} wide`);

  assert.deepEqual(await bob.call('setPreferredLayer', streamId, 'high'), { ok: true });
  const highAt = Date.now();
  const resumed = await eventually('rid f sending again', topLayerSending, (bytes) => bytes > 20_000, 30_000);
  t.diagnostic(`rid f sending again within ${Date.now() - highAt} ms of 'high' (${resumed} bytes in 2 s)`);
  await eventually(
    'the high layer again',
    () => lastSample(bob),
    (s) => !!s && s.frameWidth >= 960,
    30_000,
  );
});
