/**
 * A network change in the middle of a call, in real Chromium: the media of both participants
 * goes through the impairment proxy, which then cuts every path for good (as when a laptop moves
 * from Wi-Fi to a cable: the old address never works again). The SDK notices the dead path,
 * rebuilds each connection with restartIce, and video comes back under the same stream ids,
 * without anyone seeing a participant or a stream leave.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  delay,
  eventually,
  type HarnessEvent,
  openParticipant,
  type Participant,
  type Received,
  requireChromium,
  startBehindProxy,
} from './support.ts';

/** Frames decoded in one second on the video from `connectionId`, and that stream's id. */
async function videoProgress(
  p: Participant,
  connectionId: string,
): Promise<{ streamId: string; fps: number }> {
  const sample = async () =>
    (await p.call<Received[]>('received')).find((r) => r.connectionId === connectionId && r.kind === 'video');
  const first = await sample();
  await delay(1000);
  const second = await sample();
  return {
    streamId: second?.streamId ?? '',
    fps:
      first && second && first.streamId === second.streamId ? second.framesDecoded - first.framesDecoded : 0,
  };
}

test('after a network change video comes back under the same streams, and nobody sees anyone leave', {
  timeout: 240_000,
}, async (t) => {
  if (!requireChromium(t)) return;
  const { env, proxy, browser } = await startBehindProxy(t);
  const session = await env.createSession({});
  const join = async (identity: string) => {
    const p = await openParticipant(browser, env.url, { mediaRoute: proxy.route });
    const token = env.sdk.createToken(session.id, { identity, role: 'publisher' });
    const joined = await p.call<{ connectionId?: string; error?: string }>('join', token, {
      sessionId: session.id,
    });
    assert.equal(joined.error, undefined, `${identity} joins`);
    const published = await p.call<{ error?: string }>('publish', { audio: false, video: true });
    assert.equal(published.error, undefined, `${identity} publishes`);
    return { p, connectionId: joined.connectionId ?? '' };
  };
  const ann = await join('ann');
  const ben = await join('ben');
  const flowing = (who: Participant, from: string) =>
    eventually(
      `video from ${from}`,
      () => videoProgress(who, from),
      (v) => v.fps >= 5,
      60_000,
    );
  const annSees = await flowing(ann.p, ben.connectionId);
  const benSees = await flowing(ben.p, ann.connectionId);
  const pathsBefore = proxy.clients;

  proxy.cutCurrentPaths();
  const cutAt = Date.now();
  // The old paths are dead: the pictures freeze.
  await eventually(
    'the pictures freeze',
    () => videoProgress(ben.p, ann.connectionId),
    (v) => v.fps === 0,
    15_000,
  );

  const annAfter = await flowing(ann.p, ben.connectionId);
  const benAfter = await flowing(ben.p, ann.connectionId);
  console.log(
    `network change: video back on both sides ${((Date.now() - cutAt) / 1000).toFixed(1)} s after the cut; ` +
      `${proxy.clients} new paths through the proxy (${pathsBefore} cut)`,
  );
  assert.equal(annAfter.streamId, annSees.streamId, "ann receives ben's video under the same stream id");
  assert.equal(benAfter.streamId, benSees.streamId, "ben receives ann's video under the same stream id");
  assert.ok(proxy.clients >= 2, 'the media came back on new connections (new client addresses)');
  for (const { p } of [ann, ben]) {
    const events = await p.call<HarnessEvent[]>('events');
    const seen = (type: string) => events.filter((e) => e.type === type);
    assert.deepEqual(seen('connectionDestroyed'), [], 'nobody left');
    assert.deepEqual(seen('streamDestroyed'), [], 'no stream ended');
    assert.deepEqual(seen('reconnecting'), [], 'signaling never dropped');
    assert.equal(seen('publisherRestarted').length, 1, 'the publisher connection was restarted once');
  }
  await ann.p.close();
  await ben.p.close();
});
