/**
 * A relayed session in Chromium: two participants connect peer to peer; the server relays
 * offers, answers and candidates and carries no media.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import {
  delay,
  eventually,
  openParticipant,
  type Participant,
  type Received,
  requireChromium,
  shareBrowserAndServer,
} from './support.ts';

interface Path {
  local: { address: string; port: number };
  remote: { address: string; port: number };
}

const shared = shareBrowserAndServer();

it('in a relayed session media flows browser to browser and the server forwards no RTP', {
  timeout: 120_000,
}, async (t) => {
  const { browser, env } = shared;
  if (!requireChromium(t) || !browser || !env) return;
  const session = await env.createSession({ mediaMode: 'relayed' });
  const people: { p: Participant; connectionId: string }[] = [];
  for (const name of ['ann', 'ben']) {
    const token: string = env.sdk.createToken(session.id, { role: 'publisher', identity: name, data: name });
    const p = await openParticipant(browser, env.url);
    const joined: { connectionId: string; mediaMode: string; error?: string } = await p.call<{
      connectionId: string;
      mediaMode: string;
      error?: string;
    }>('join', token, {
      sessionId: session.id,
    });
    assert.equal(joined.error, undefined);
    assert.equal(joined.mediaMode, 'relayed');
    const published = await p.call<{ error?: string }>('publish', { audio: true, video: true, name });
    assert.equal(published.error, undefined);
    people.push({ p, connectionId: joined.connectionId });
  }

  for (const [i, me] of people.entries()) {
    const other = people[1 - i]!;
    const first = await eventually(
      'video and audio from the other peer',
      () => me.p.call<Received[]>('received'),
      (list) =>
        list.some(
          (r) => r.connectionId === other.connectionId && r.kind === 'video' && r.framesDecoded > 5,
        ) &&
        list.some(
          (r) => r.connectionId === other.connectionId && r.kind === 'audio' && r.packetsReceived > 5,
        ),
    );
    await delay(1000);
    const later = await me.p.call<Received[]>('received');
    const video0 = first.find((r) => r.kind === 'video')!;
    const video1 = later.find((r) => r.streamId === video0.streamId)!;
    assert.ok(video1.framesDecoded > video0.framesDecoded, 'video keeps decoding');
    assert.ok((video1.brightness ?? 0) > 20, 'and is not black');
  }

  // Each browser's media path ends at the other browser's own candidate, not at the server.
  const [a, b] = await Promise.all(people.map((x) => x.p.call<Path | null>('selectedPath')));
  assert.ok(a && b, 'both have a selected candidate pair');
  assert.equal(a.remote.port, b.local.port);
  assert.equal(b.remote.port, a.local.port);

  // The server never set up media for the session: no router, so nothing to forward.
  const media = env.server.media;
  assert.equal(media.getRouter(session.id), undefined, 'no SFU router for a relayed session');
  assert.equal(
    media.workers().reduce((n, w) => n + w.routers, 0),
    0,
    'no router on any media worker',
  );
  for (const { p } of people) await p.close();
});
