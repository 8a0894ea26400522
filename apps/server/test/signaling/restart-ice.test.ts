/**
 * restartIce: a participant whose network changed rebuilds a media connection without leaving.
 * The SFU cannot restart ICE in place (libdatachannel), so a new connection takes over under the
 * same stream id or the same subscriptions, and nobody else notices: no streamDestroyed, no
 * connectionDestroyed, and the subscriber's RTP stays one continuous stream.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SignalingError } from '../support/node-client.ts';
import { startHarness } from './harness.ts';

test('a publisher restart keeps the stream id; subscribers keep receiving one continuous stream', async (t) => {
  const h = await startHarness(t);
  const session = await h.createSession();
  const alice = await h.join(session);
  const bob = await h.join(session);
  const { streamId } = await alice.publish({ kind: 'video' });
  const { mid, peer } = await bob.subscribe(streamId);
  await peer.waitFor(() => bob.packetsOn(mid) > 30, 10_000, 'video before the restart');
  const before = { ...peer.streamForMid(mid)! };
  const packetsBefore = before.packets;

  await alice.restartPublication(streamId);

  await peer.waitFor(() => bob.packetsOn(mid) > packetsBefore + 60, 10_000, 'video from the new connection');
  const after = peer.streamForMid(mid)!;
  const onSection = [...peer.streams.values()].filter((s) => s.mid === mid);
  assert.deepEqual(
    onSection.map((s) => s.ssrc),
    [before.ssrc],
    'the subscriber sees one SSRC on the section, before and after',
  );
  assert.equal(after.sequenceBackwards, 0, 'sequence numbers stay monotonic across the source change');
  assert.equal(after.timestampBackwards, 0, 'timestamps stay monotonic across the source change');
  assert.ok(after.keyFrames > before.keyFrames, 'a keyframe from the new connection reached the subscriber');
  for (const type of ['streamDestroyed', 'streamCreated', 'consumerClosed', 'connectionDestroyed'] as const) {
    assert.equal(
      bob.eventsOf(type).filter((e) => !('streamId' in e) || e.streamId === streamId).length,
      type === 'streamCreated' ? 1 : 0,
      `bob saw no extra ${type}`,
    );
  }
});

test('a subscriber restart carries every subscription on a new connection; publishers see nothing', async (t) => {
  const h = await startHarness(t);
  const session = await h.createSession();
  const alice = await h.join(session);
  const bob = await h.join(session);
  const video = await alice.publish({ kind: 'video' });
  const audio = await alice.publish({ kind: 'audio' });
  const { mid } = await bob.subscribe(video.streamId);
  const first = (await bob.subscribe(audio.streamId)).peer;
  await first.waitFor(() => bob.packetsOn(mid) > 10, 10_000, 'media before the restart');
  const offersBefore = bob.eventsOf('subscriberOffer').length;

  await bob.restartSubscriber();

  await bob.until(() => bob.eventsOf('subscriberOffer').length > offersBefore, 10_000, 'a new offer');
  const latest = bob.eventsOf('subscriberOffer').at(-1)!;
  assert.deepEqual(latest.tracks.map((tr) => tr.streamId).sort(), [video.streamId, audio.streamId].sort());
  const videoMid = latest.tracks.find((tr) => tr.streamId === video.streamId)!.mid;
  const audioMid = latest.tracks.find((tr) => tr.streamId === audio.streamId)!.mid;
  await bob.until(() => bob.subscriberPeer && bob.subscriberPeer !== first, 10_000, 'a new subscriber peer');
  await bob.subscriberPeer!.waitFor(
    () => bob.packetsOn(videoMid) > 30 && bob.packetsOn(audioMid) > 10,
    10_000,
    'video and audio on the new connection',
  );
  assert.deepEqual(bob.offerErrors, []);
  assert.equal(alice.eventsOf('connectionDestroyed').length, 0);
  assert.equal(alice.eventsOf('streamDestroyed').length, 0);
  assert.equal(bob.eventsOf('streamDestroyed').length, 0);
});

test('restartIce refuses what is not the participant’s own, and relayed sessions', async (t) => {
  const h = await startHarness(t);
  const session = await h.createSession();
  const alice = await h.join(session);
  const mallory = await h.join(session);
  const { streamId, peer } = await alice.publish({ kind: 'video' });
  const refused = (target: string, sdp?: string) =>
    mallory.request<'restartIce'>({ type: 'restartIce', target, ...(sdp ? { sdp } : {}) }).then(
      () => 'accepted',
      (err: SignalingError) => err.code,
    );
  assert.equal(await refused(streamId, peer.offer), 'stream_not_found', "another participant's stream");
  assert.equal(await refused('str_doesnotexist000000000', peer.offer), 'stream_not_found');
  assert.equal(
    await alice
      .request<'restartIce'>({ type: 'restartIce', target: streamId })
      .catch((err: SignalingError) => err.code),
    'invalid_request',
    'a publisher restart needs an offer',
  );
  assert.equal(await refused(streamId, 'v=0\r\nnot sdp'), 'sdp_invalid');
  // Nothing changed for alice's stream.
  assert.equal(mallory.eventsOf('streamDestroyed').length, 0);

  const relayed = await h.createSession({ mediaMode: 'relayed' });
  const carol = await h.join(relayed);
  assert.equal(
    await carol
      .request<'restartIce'>({ type: 'restartIce', target: 'subscriber' })
      .catch((err: SignalingError) => err.code),
    'invalid_request',
  );
});
