/**
 * Routed calls through the real gateway and SFU with Node participants: join, events, publish
 * synthetic video, subscribe and receive it, signals, leave.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SignalingError } from '../support/node-client.ts';
import { startHarness } from './harness.ts';

test('two participants: join, publish, subscribe, receive RTP, signal, leave', async (t) => {
  const h = await startHarness(t);
  const session = await h.createSession();
  const alice = await h.join(session, { data: 'name=Alice' });
  assert.equal(alice.joined?.session.sessionId, session.id);
  assert.deepEqual(alice.joined?.connections, []);

  const bob = await h.join(session, { role: 'subscriber' });
  const seen = await alice.waitFor(
    'connectionCreated',
    (e) => e.connection.connectionId === bob.connectionId,
  );
  assert.equal(seen.connection.role, 'subscriber');
  assert.deepEqual(
    bob.joined?.connections.map((c) => [c.connectionId, c.data]),
    [[alice.connectionId, 'name=Alice']],
  );

  const { streamId } = await alice.publish({ kind: 'video', source: 'camera', name: 'Alice camera' });
  const created = await bob.waitFor('streamCreated', (e) => e.stream.streamId === streamId);
  assert.deepEqual(
    { kind: created.stream.kind, source: created.stream.source, name: created.stream.name },
    { kind: 'video', source: 'camera', name: 'Alice camera' },
  );

  const { mid, peer } = await bob.subscribe(streamId);
  await peer.connected();
  await peer.waitFor(() => bob.packetsOn(mid) > 50, 10_000, 'video packets at the subscriber');
  const received = peer.streamForMid(mid);
  assert.ok(received);
  assert.equal(received.sequenceBackwards, 0, 'sequence numbers never go backwards');
  assert.ok(received.sequenceGaps <= 2, `sequence numbers continuous (gaps: ${received.sequenceGaps})`);
  assert.deepEqual(bob.offerErrors, []);
  await alice.waitFor('streamUpdated', (e) => e.streamId === streamId && e.subscriberCount === 1);

  await bob.signal('chat', 'hello from bob');
  const signal = await alice.waitFor('signal', (e) => e.signalType === 'chat');
  assert.deepEqual(signal, {
    type: 'signal',
    from: bob.connectionId,
    signalType: 'chat',
    data: 'hello from bob',
  });
  await alice.signal('direct', 'just you', [bob.connectionId]);
  assert.equal((await bob.waitFor('signal', (e) => e.signalType === 'direct')).from, alice.connectionId);
  assert.equal(h.gateway.sendSignal(session.id, { signalType: 'server', data: 'all' }), 2);
  assert.equal((await bob.waitFor('signal', (e) => e.signalType === 'server')).from, null);

  await alice.leave();
  await bob.waitFor('consumerClosed', (e) => e.streamId === streamId && e.mid === mid);
  const destroyed = await bob.waitFor('streamDestroyed', (e) => e.streamId === streamId);
  assert.equal(destroyed.reason, 'left');
  const gone = await bob.waitFor('connectionDestroyed', (e) => e.connectionId === alice.connectionId);
  assert.equal(gone.reason, 'left');
});

test('a subscriber-only token is refused when it publishes, and can still subscribe', async (t) => {
  const h = await startHarness(t);
  const session = await h.createSession();
  const viewer = await h.join(session, { role: 'subscriber' });
  await assert.rejects(viewer.publish(), (err: SignalingError) => err.code === 'publish_not_allowed');
  const presenter = await h.join(session);
  const { streamId } = await presenter.publish();
  const { mid, peer } = await viewer.subscribe(streamId);
  await peer.waitFor(() => viewer.packetsOn(mid) > 0, 10_000, 'packets at the subscriber-only participant');
});

test('maxParticipants: the participant over the limit is refused with session_full', async (t) => {
  const h = await startHarness(t, { media: false });
  const session = await h.createSession({ maxParticipants: 2 });
  const first = await h.join(session);
  await h.join(session);
  await assert.rejects(h.join(session), (err: SignalingError) => err.code === 'session_full');
  await first.leave();
  await h.join(session);
});

test('subscribing to two streams renegotiates one offer at a time and both arrive', async (t) => {
  const h = await startHarness(t);
  const session = await h.createSession();
  const alice = await h.join(session);
  const bob = await h.join(session);
  const video = await alice.publish({ kind: 'video' });
  const audio = await alice.publish({ kind: 'audio' });
  const [v, a] = await Promise.all([bob.subscribe(video.streamId), bob.subscribe(audio.streamId)]);
  assert.notEqual(v.mid, a.mid);
  await v.peer.waitFor(
    () => bob.packetsOn(v.mid) > 10 && bob.packetsOn(a.mid) > 10,
    10_000,
    'audio and video packets',
  );
  assert.deepEqual(bob.offerErrors, []);
});
