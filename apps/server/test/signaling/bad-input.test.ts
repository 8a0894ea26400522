/**
 * Bad input from the network, each case its own test. Every test checks that the offender gets
 * a clear error (or the documented close code), that the server stays up, and that a bystander
 * pair in the same session keeps receiving both events and media packets.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Session } from '@conclave/protocol/rest';
import type { SignalingSettings } from '@conclave/server/signaling/index';
import { NodeClient, type SignalingError } from '../support/node-client.ts';
import { type Harness, startHarness } from './harness.ts';

interface Bystanders {
  h: Harness;
  session: Session;
  /** Fails unless the pair still exchanges signals and video packets keep arriving. */
  assertUnaffected(): Promise<void>;
}

async function withBystanders(
  t: Parameters<typeof startHarness>[0],
  settings: Partial<SignalingSettings> = {},
): Promise<Bystanders> {
  const h = await startHarness(t, { settings });
  const session = await h.createSession();
  const alice = await h.join(session);
  const bob = await h.join(session);
  const { streamId } = await alice.publish({ kind: 'video' });
  const { mid, peer } = await bob.subscribe(streamId);
  await peer.waitFor(() => bob.packetsOn(mid) > 0, 10_000, 'bystander video');
  let round = 0;
  return {
    h,
    session,
    async assertUnaffected() {
      const before = bob.packetsOn(mid);
      const marker = `still-here-${round++}`;
      await alice.signal('check', marker, [bob.connectionId]);
      await bob.waitFor('signal', (e) => e.data === marker, 5000);
      await peer.waitFor(() => bob.packetsOn(mid) > before + 20, 5000, 'more bystander packets');
      assert.equal((await fetch(`${h.url}/anything`)).status, 404, 'the HTTP server still answers');
    },
  };
}

test('malformed JSON: error message_invalid, the connection stays usable', async (t) => {
  const { h, session, assertUnaffected } = await withBystanders(t);
  const mallory = await h.join(session);
  mallory.sendRaw('{"type":"signal", oops');
  const error = await mallory.waitFor('error');
  assert.equal(error.error.code, 'message_invalid');
  assert.equal(error.id, undefined);
  await mallory.signal('after', 'still connected');
  await assertUnaffected();
});

test('unknown message type: error unknown_message_type with the request id', async (t) => {
  const { h, session, assertUnaffected } = await withBystanders(t);
  const mallory = await h.join(session);
  mallory.sendJson({ type: 'explode', id: 77 });
  const error = await mallory.waitFor('error');
  assert.deepEqual(error, {
    type: 'error',
    id: 77,
    error: { code: 'unknown_message_type', message: 'Unknown message type' },
  });
  await mallory.signal('after', 'still connected');
  await assertUnaffected();
});

test('a message before authentication: not_authenticated, closed with 4000, nothing about the session sent', async (t) => {
  const { h, assertUnaffected } = await withBystanders(t);
  const mallory = h.track(await NodeClient.open(h.url));
  mallory.sendJson({ type: 'subscribe', id: 1, streamId: 'str_x' });
  const closed = await mallory.closed;
  assert.equal(closed.code, 4000);
  assert.deepEqual(
    mallory.events.map((e) => e.type),
    ['error'],
  );
  assert.equal(mallory.eventsOf('error')[0]?.error.code, 'not_authenticated');
  await assertUnaffected();
});

test('an oversized frame closes the connection with 1009', async (t) => {
  const { h, session, assertUnaffected } = await withBystanders(t, { resumeWindowMs: 200 });
  const mallory = await h.join(session);
  mallory.sendJson({ type: 'signal', signalType: 'big', data: 'x'.repeat(70 * 1024) });
  assert.equal((await mallory.closed).code, 1009);
  await assertUnaffected();
});

test('garbage SDP in publish: error sdp_invalid, the connection stays', async (t) => {
  const { h, session, assertUnaffected } = await withBystanders(t);
  const mallory = await h.join(session);
  for (const sdp of [
    'hello',
    'v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=garbage\r\n',
    'v=0\r\nm=audio x\r\nm=video y\r\n',
  ]) {
    await assert.rejects(
      mallory.request<'publish'>({ type: 'publish', kind: 'video', source: 'camera', sdp }),
      (err: SignalingError) => err.code === 'sdp_invalid',
      `publish with ${JSON.stringify(sdp.slice(0, 20))}`,
    );
  }
  await mallory.signal('after', 'still connected');
  await assertUnaffected();
});

test('an expired token is refused with token_expired and close 4002', async (t) => {
  const { h, session, assertUnaffected } = await withBystanders(t);
  const now = Math.floor(Date.now() / 1000);
  const token = h.token(session, { iat: now - 900, nbf: now - 900, exp: now - 300 });
  const mallory = h.track(await NodeClient.open(h.url));
  await assert.rejects(mallory.join(token), (err: SignalingError) => err.code === 'token_expired');
  assert.equal((await mallory.closed).code, 4002);
  await assertUnaffected();
});

test("another application's token for this session is refused", async (t) => {
  const { h, session, assertUnaffected } = await withBystanders(t);
  const other = await h.createApp('other-app');
  const token = h.token(session, {}, other);
  const mallory = h.track(await NodeClient.open(h.url));
  await assert.rejects(mallory.join(token, { sessionId: session.id }), (err: SignalingError) =>
    err.code.startsWith('token_'),
  );
  assert.equal((await mallory.closed).code, 4001);
  assert.equal(mallory.eventsOf('connectionCreated').length, 0);
  await assertUnaffected();
});

test('a token for another session is refused with token_wrong_session', async (t) => {
  const { h, session, assertUnaffected } = await withBystanders(t);
  const elsewhere = await h.createSession();
  const mallory = h.track(await NodeClient.open(h.url));
  await assert.rejects(
    mallory.join(h.token(elsewhere), { sessionId: session.id }),
    (err: SignalingError) => err.code === 'token_wrong_session',
  );
  assert.equal((await mallory.closed).code, 4001);
  await assertUnaffected();
});

test('a token in the URL query is refused at the upgrade and never logged', async (t) => {
  const { h, session, assertUnaffected } = await withBystanders(t);
  const token = h.token(session);
  await assert.rejects(NodeClient.open(h.url, { query: `?token=${token}` }), /upgrade refused: 400/);
  await assert.rejects(NodeClient.open(h.url, { query: `?access_token=${token}` }), /upgrade refused: 400/);
  assert.ok(!h.logLines.some((line) => line.includes(token.split('.')[2] ?? token)));
  await assertUnaffected();
});

test('a binary frame closes the connection with 1003', async (t) => {
  const { h, session, assertUnaffected } = await withBystanders(t, { resumeWindowMs: 200 });
  const mallory = await h.join(session);
  mallory.sendRaw(Buffer.from('{"type":"leave"}'), true);
  assert.equal((await mallory.closed).code, 1003);
  await assertUnaffected();
});

test('a message flood is throttled (rate_limited), then closed with 1008', async (t) => {
  const { h, session, assertUnaffected } = await withBystanders(t, { resumeWindowMs: 200 });
  const mallory = await h.join(session);
  for (let i = 0; i < 1000; i++) mallory.sendJson({ type: 'signal', signalType: 'spam', data: String(i) });
  const closed = await mallory.closed;
  assert.equal(closed.code, 1008);
  assert.equal(mallory.eventsOf('error')[0]?.error.code, 'rate_limited');
  await assertUnaffected();
});

test('no join within the timeout: closed with 4000', async (t) => {
  const { h, assertUnaffected } = await withBystanders(t, { joinTimeoutMs: 300 });
  const idle = h.track(await NodeClient.open(h.url));
  const started = Date.now();
  const closed = await idle.closed;
  assert.equal(closed.code, 4000);
  assert.ok(Date.now() - started < 3000);
  await assertUnaffected();
});

test('an end-to-end encrypted session refuses a client without e2ee capability', async (t) => {
  const h = await startHarness(t, { media: false });
  const session = await h.createSession({ e2ee: true });
  const client = h.track(await NodeClient.open(h.url));
  await assert.rejects(
    client.join(h.token(session)),
    (err: SignalingError) => err.code === 'e2ee_unsupported',
  );
  assert.equal((await client.closed).code, 4006);
  const capable = await NodeClient.connect(h.url, h.token(session), { capabilities: { e2ee: true } });
  h.track(capable);
  assert.equal(capable.joined?.session.e2ee, true);
});

test("an Origin outside the application's allow-list is refused with 4007", async (t) => {
  const allowed = 'https://partner.example';
  const h = await startHarness(t, {
    media: false,
    settings: (app) => ({ allowedOrigins: { [app.apiKey]: [allowed] } }),
  });
  const session = await h.createSession();
  const evil = h.track(await NodeClient.open(h.url, { origin: 'https://evil.example' }));
  await assert.rejects(
    evil.join(h.token(session)),
    (err: SignalingError) => err.code === 'origin_not_allowed',
  );
  assert.equal((await evil.closed).code, 4007);
  const partner = h.track(await NodeClient.connect(h.url, h.token(session), { origin: allowed }));
  assert.ok(partner.joined);
});
