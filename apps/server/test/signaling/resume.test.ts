/**
 * Resume after a dropped WebSocket. In its own file (own process): run after the relayed test's
 * peer-to-peer peers in one process, the subscriber's DTLS handshake with the SFU sometimes
 * failed (certificate verify failed), which looks like media-plane cross-talk between tests.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NodeClient } from '../support/node-client.ts';
import { startHarness } from './harness.ts';

test('resume after a dropped WebSocket keeps the participant, its subscriptions and missed events', async (t) => {
  const h = await startHarness(t, { settings: { resumeWindowMs: 5000 } });
  const session = await h.createSession();
  const token = h.token(session, { sub: 'erin' });
  const alice = await h.join(session);
  const erin = h.track(await NodeClient.connect(h.url, token));
  const { streamId } = await alice.publish();
  const { mid, peer } = await erin.subscribe(streamId);
  await peer.waitFor(() => erin.packetsOn(mid) > 0, 10_000, 'video before the drop');
  const joined = erin.joined;
  assert.ok(joined);

  erin.drop();
  await erin.closed;
  await alice.signal('while-away', 'sent during the drop');

  const back = h.track(
    await NodeClient.connect(h.url, h.token(session, { sub: 'erin' }), {
      resume: { connectionId: joined.connectionId, resumeToken: joined.resumeToken },
    }),
  );
  assert.equal(back.joined?.resumed, true);
  assert.equal(back.connectionId, joined.connectionId);
  assert.equal((await back.waitFor('signal', (e) => e.signalType === 'while-away')).from, alice.connectionId);
  const before = erin.packetsOn(mid);
  await peer.waitFor(() => erin.packetsOn(mid) > before + 20, 5000, 'video after the resume');
  assert.equal(alice.eventsOf('connectionDestroyed').length, 0, 'others never saw the participant leave');

  // A wrong resume token is not a resume: the join goes ahead as a new participant.
  const fresh = h.track(
    await NodeClient.connect(h.url, h.token(session, { sub: 'erin' }), {
      resume: { connectionId: joined.connectionId, resumeToken: 'not-the-token' },
    }),
  );
  assert.equal(fresh.joined?.resumed, false);
  assert.notEqual(fresh.connectionId, joined.connectionId);
});
