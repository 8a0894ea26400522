/**
 * Session rules enforced during the call: relayed sessions, revocation, token expiry and
 * refresh, resume after a dropped WebSocket.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createPublisherPeer, createSubscriberPeer } from '@conclave/server/media/testing/rtp-peer';
import { NodeClient, type SignalingError } from '../support/node-client.ts';
import { startHarness } from './harness.ts';

const SYSTEM = { id: 'system', source: 'local' };

test('relayed session: offers, answers and candidates pass between the two peers; the server carries no media', async (t) => {
  const h = await startHarness(t);
  const session = await h.createSession({ mediaMode: 'relayed' });
  const alice = await h.join(session);
  const bob = await h.join(session);
  assert.equal(alice.joined?.session.mediaMode, 'relayed');
  await assert.rejects(alice.publish(), (err: SignalingError) => err.code === 'invalid_request');
  await assert.rejects(h.join(session), (err: SignalingError) => err.code === 'session_full');

  // Peer to peer: alice offers through the server, bob answers through it, media flows directly.
  const sender = await createPublisherPeer({ kind: 'video' });
  const receiver = await createSubscriberPeer();
  t.after(async () => {
    await sender.close();
    await receiver.close();
  });
  alice.sendJson({ type: 'relay', to: bob.connectionId, sdp: { type: 'offer', sdp: sender.offer } });
  const offer = await bob.waitFor('relay', (e) => e.sdp?.type === 'offer');
  assert.equal(offer.from, alice.connectionId);
  const answer = await receiver.answer(offer.sdp?.sdp ?? '');
  bob.sendJson({ type: 'relay', to: alice.connectionId, sdp: { type: 'answer', sdp: answer } });
  bob.sendJson({
    type: 'relay',
    to: alice.connectionId,
    candidate: { candidate: 'candidate:1 1 UDP 1 127.0.0.1 9 typ host', sdpMid: '0' },
  });
  const relayedAnswer = await alice.waitFor('relay', (e) => e.sdp?.type === 'answer');
  assert.equal((await alice.waitFor('relay', (e) => e.candidate !== undefined)).from, bob.connectionId);
  await sender.setAnswer(relayedAnswer.sdp?.sdp ?? '');
  sender.start();
  await receiver.waitFor(() => [...receiver.streams.values()].some((s) => s.packets > 20), 10_000, 'p2p RTP');
  assert.deepEqual(
    h.media?.workers().map((w) => w.routers),
    [0],
    'no router (so no media object) was created for the relayed session',
  );

  alice.sendJson({ type: 'relay', to: 'con_nobody', candidate: { candidate: 'x' } });
  assert.equal((await alice.waitFor('error')).error.code, 'relayed_peer_missing');
});

test('revocation disconnects the participant at once (4003) and removes its streams', async (t) => {
  const h = await startHarness(t);
  const session = await h.createSession();
  const jti = randomUUID();
  const kicked = await h.join(session, { jti, sub: 'mallory' });
  const witness = await h.join(session);
  const { streamId } = await kicked.publish();
  await witness.waitFor('streamCreated', (e) => e.stream.streamId === streamId);

  await h.control.revocations.revoke(h.app.appId, session.id, { jti }, SYSTEM);
  const started = Date.now();
  assert.equal(h.gateway.disconnect(session.id, { jti }), 1);
  assert.equal((await kicked.closed).code, 4003);
  assert.ok(Date.now() - started < 1000);
  assert.equal((await witness.waitFor('streamDestroyed', (e) => e.streamId === streamId)).reason, 'kicked');
  assert.equal(
    (await witness.waitFor('connectionDestroyed', (e) => e.connectionId === kicked.connectionId)).reason,
    'kicked',
  );
  await assert.rejects(
    NodeClient.connect(h.url, h.token(session, { jti, sub: 'mallory' })),
    (err: SignalingError) => err.code === 'token_revoked',
  );
  assert.equal(h.gateway.disconnect(session.id, { identity: 'nobody' }), 0);
});

test('token expiry: tokenExpiring is sent ahead, then the connection closes with 4002', async (t) => {
  const h = await startHarness(t, { media: false, settings: { tokenRefreshLeadMs: 1500 } });
  const session = await h.createSession();
  const now = Math.floor(Date.now() / 1000);
  const short = await h.join(session, { iat: now, nbf: now, exp: now + 3 });
  const witness = await h.join(session);
  const expiring = await short.waitFor('tokenExpiring', () => true, 5000);
  assert.equal(expiring.expiresAt, new Date((now + 3) * 1000).toISOString());
  const closed = await short.closed;
  assert.equal(closed.code, 4002);
  assert.ok(Date.now() >= (now + 3) * 1000 - 50, 'not closed before expiry');
  assert.equal(
    (await witness.waitFor('connectionDestroyed', (e) => e.connectionId === short.connectionId)).reason,
    'expired',
  );
});

test('refreshToken with a fresh token for the same identity extends the call; other tokens are refused', async (t) => {
  const h = await startHarness(t, { media: false, settings: { tokenRefreshLeadMs: 1000 } });
  const session = await h.createSession();
  const now = Math.floor(Date.now() / 1000);
  const client = await h.join(session, { sub: 'carol', iat: now, nbf: now, exp: now + 2 });

  await assert.rejects(
    client.refreshToken(h.token(session, { sub: 'dave' })),
    (err: SignalingError) => err.code === 'token_wrong_session',
  );
  const elsewhere = await h.createSession();
  await assert.rejects(
    client.refreshToken(h.token(elsewhere, { sub: 'carol' })),
    (err: SignalingError) => err.code === 'token_wrong_session',
  );
  const { tokenExpiresAt } = await client.refreshToken(h.token(session, { sub: 'carol', exp: now + 600 }));
  assert.equal(tokenExpiresAt, new Date((now + 600) * 1000).toISOString());

  await sleep(3000);
  await client.signal('alive', 'past the first expiry');
  assert.equal(client.ws.readyState, client.ws.OPEN);
});

test('a dropped participant that does not resume is removed after the resume window', async (t) => {
  const h = await startHarness(t, { media: false, settings: { resumeWindowMs: 300 } });
  const session = await h.createSession();
  const alice = await h.join(session);
  const bob = await h.join(session);
  bob.drop();
  const gone = await alice.waitFor('connectionDestroyed', (e) => e.connectionId === bob.connectionId, 5000);
  assert.equal(gone.reason, 'dropped');
});

test('a peer that stops answering pings is disconnected after two intervals', async (t) => {
  const h = await startHarness(t, { media: false, settings: { pingIntervalMs: 200, resumeWindowMs: 100 } });
  const session = await h.createSession();
  const alice = await h.join(session);
  const silent = h.track(await NodeClient.open(h.url, { autoPong: false }));
  await silent.join(h.token(session));
  const started = Date.now();
  const gone = await alice.waitFor(
    'connectionDestroyed',
    (e) => e.connectionId === silent.connectionId,
    5000,
  );
  assert.equal(gone.reason, 'dropped');
  assert.ok(Date.now() - started < 2000, 'closed within a few ping intervals');
  assert.equal(alice.ws.readyState, alice.ws.OPEN, 'a peer that answers pings stays');
});
