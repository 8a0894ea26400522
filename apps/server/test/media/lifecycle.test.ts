/**
 * The closure chain (router > transport > producer/consumer) and bad input: what the signaling
 * gateway relies on when participants leave or send garbage.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ConclaveError } from '@conclave/protocol/errors';
import type { LocalMediaPlane } from '@conclave/server/media/index';
import { createPublisherPeer } from '@conclave/server/media/testing/rtp-peer';
import { nextEvent, publish, releaseNodeDataChannel, startPlane, subscribe } from './support.ts';

let plane: LocalMediaPlane;
before(async () => {
  plane = await startPlane({ workers: 1 });
});
after(async () => {
  await plane.close();
  await releaseNodeDataChannel();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('closing a publisher transport ends its consumers and stops their media', async () => {
  const router = await plane.createRouter('life-publisher');
  const pub = await publish(router, 'video');
  pub.peer.start();
  const sub = await subscribe(router, [pub.producer.id]);
  try {
    await sub.peer.waitFor(() => (sub.peer.streamForMid('0')?.packets ?? 0) > 10, 5000, 'media');
    const consumerClosed = nextEvent(sub.transport, 'consumerclose');
    const transportClosed = nextEvent(pub.transport, 'close');
    pub.transport.close();
    await transportClosed;
    assert.deepEqual(await consumerClosed, [sub.consumers[0]!.consumerId]);
    await sleep(200);
    const stalled = sub.peer.streamForMid('0')!.packets;
    await sleep(400);
    assert.equal(sub.peer.streamForMid('0')!.packets, stalled, 'no packet after the producer closed');
    await assert.rejects(sub.transport.consume(pub.producer.id), { code: 'stream_not_found' });
  } finally {
    pub.peer.stop();
    await Promise.all([pub.peer.close(), sub.peer.close()]);
    router.close();
  }
});

test('closing a subscriber transport stops its media and leaves the publisher and others alone', async () => {
  const router = await plane.createRouter('life-subscriber');
  const pub = await publish(router, 'video');
  pub.peer.start();
  const leaving = await subscribe(router, [pub.producer.id], 'bob');
  const staying = await subscribe(router, [pub.producer.id], 'carol');
  try {
    await leaving.peer.waitFor(() => (leaving.peer.streamForMid('0')?.packets ?? 0) > 10, 5000, 'media');
    const closed = nextEvent(leaving.transport, 'close');
    leaving.transport.close();
    await closed;
    await assert.rejects(leaving.transport.getStats(), { code: 'not_found' });
    await sleep(200);
    const stalled = leaving.peer.streamForMid('0')!.packets;
    const before = staying.peer.streamForMid('0')?.packets ?? 0;
    await sleep(400);
    assert.equal(leaving.peer.streamForMid('0')!.packets, stalled, 'the closed subscriber receives nothing');
    assert.ok(staying.peer.streamForMid('0')!.packets > before + 30, 'the other subscriber keeps receiving');
  } finally {
    pub.peer.stop();
    await Promise.all([pub.peer.close(), leaving.peer.close(), staying.peer.close()]);
    router.close();
  }
});

test('closing a router closes every transport under it and frees the session id', async () => {
  const router = await plane.createRouter('life-router');
  const pub = await publish(router, 'audio');
  pub.peer.start();
  const sub = await subscribe(router, [pub.producer.id]);
  try {
    await sub.peer.waitFor(() => (sub.peer.streamForMid('0')?.packets ?? 0) > 5, 5000, 'media');
    const events = [
      nextEvent(router, 'close'),
      nextEvent(pub.transport, 'close'),
      nextEvent(sub.transport, 'close'),
    ];
    router.close();
    await Promise.all(events);
    assert.equal(plane.getRouter('life-router'), undefined);
    await assert.rejects(router.createSubscriberTransport({ participantId: 'late' }), {
      code: 'session_not_found',
    });
    await sleep(200);
    const stalled = sub.peer.streamForMid('0')!.packets;
    await sleep(300);
    assert.equal(sub.peer.streamForMid('0')!.packets, stalled, 'no media after the router closed');
    const again = await plane.createRouter('life-router');
    assert.notEqual(again, router, 'the session id can get a fresh router');
    again.close();
  } finally {
    pub.peer.stop();
    await Promise.all([pub.peer.close(), sub.peer.close()]);
  }
});

const GARBAGE_OFFERS: [string, (valid: string) => string][] = [
  ['not SDP at all', () => 'hello'],
  ['empty', () => ''],
  ['binary noise', () => String.fromCharCode(...Array.from({ length: 300 }, (_, i) => (i * 37) % 256))],
  ['two media sections', (valid) => valid + valid.slice(valid.indexOf('m=video'))],
  ['the wrong kind', (valid) => valid.replace('m=video', 'm=audio')],
  ['no supported codec', (valid) => valid.replaceAll('VP8/90000', 'FOO/90000')],
  ['no fingerprint', (valid) => valid.replace(/a=fingerprint:.*\r\n/, '')],
  [
    'a mangled fingerprint',
    (valid) => valid.replace(/a=fingerprint:sha-256 \S+/, 'a=fingerprint:sha-256 zz'),
  ],
  ['no ICE credentials', (valid) => valid.replace(/a=ice-ufrag:.*\r\n/, '')],
  ['a huge body', (valid) => valid + `a=x-junk:${'x'.repeat(100_000)}\r\n`],
];

test('garbage offer SDP is refused with sdp_invalid and the worker keeps serving', async () => {
  const router = await plane.createRouter('life-garbage');
  const probe = await createPublisherPeer({ kind: 'video' });
  try {
    for (const [what, mangle] of GARBAGE_OFFERS) {
      await assert.rejects(
        router.createPublisherTransport({
          participantId: 'x',
          source: 'camera',
          kind: 'video',
          offerSdp: mangle(probe.offer),
        }),
        (error: unknown) => {
          assert.ok(error instanceof ConclaveError, `${what}: a ConclaveError`);
          assert.equal(error.code, 'sdp_invalid', what);
          assert.doesNotMatch(error.message, /\/|at |Napi/, `${what}: no path or stack in the message`);
          return true;
        },
      );
    }
    assert.equal(plane.workers().length, 1, 'the worker survived');
    const pub = await publish(router, 'video');
    pub.peer.start();
    const sub = await subscribe(router, [pub.producer.id]);
    await sub.peer.waitFor(
      () => (sub.peer.streamForMid('0')?.packets ?? 0) > 10,
      5000,
      'media after garbage',
    );
    pub.peer.stop();
    await Promise.all([pub.peer.close(), sub.peer.close()]);
  } finally {
    await probe.close();
    router.close();
  }
});

test('a garbage subscriber answer is refused with sdp_invalid', async () => {
  const router = await plane.createRouter('life-garbage-answer');
  const pub = await publish(router, 'audio');
  try {
    const transport = await router.createSubscriberTransport({ participantId: 'bob' });
    await transport.consume(pub.producer.id);
    await transport.createOffer();
    for (const answer of ['v=0', 'nonsense', `v=0\r\na=fingerprint:sha-256 AA\r\na=mid:7\r\n`]) {
      await assert.rejects(transport.setAnswer(answer), { code: 'sdp_invalid' });
    }
    await assert.rejects(transport.consume('no-such-producer'), { code: 'stream_not_found' });
    transport.close();
  } finally {
    await pub.peer.close();
    router.close();
  }
});
