/**
 * Chromium with iceTransportPolicy 'relay' joins a routed call and decodes video through a real
 * coturn (generated configuration, media node on loopback allowed), over TURN/UDP, TURN/TCP and
 * TURN/TLS (turns:). The TURN servers reach the browser the way production does: in the join
 * reply, with credentials minted by the server.
 *
 * Over TCP and TLS Chromium's checks carry a zero ICE tie-breaker that libjuice refuses; they get
 * through the media worker's tie-breaker relay (src/media/worker/tiebreaker-relay.ts). Without it
 * these two cases fail (400 "Controlling and controlled attributes mismatch", no media).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import {
  chromiumPresent,
  type E2eServer,
  eventually,
  openParticipant,
  type Participant,
  type Received,
  requireChromium,
  type SelectedPath,
  startE2eServer,
} from '../e2e/support.ts';
import { requireComponent } from '../support/env.ts';
import { coturnInstalled, launchTrusting, startTestCoturn, type TestCoturn } from './fixture.ts';

const transports = [
  {
    name: 'TURN over UDP',
    url: (c: TestCoturn) => `turn:${c.host}:${c.port}?transport=udp`,
    relayProtocol: 'udp',
  },
  {
    name: 'TURN over TCP',
    url: (c: TestCoturn) => `turn:${c.host}:${c.port}?transport=tcp`,
    relayProtocol: 'tcp',
  },
  {
    name: 'TURN over TLS (turns:)',
    url: (c: TestCoturn) => `turns:${c.host}:${c.tlsPort}?transport=tcp`,
    relayProtocol: 'tls',
  },
] as const;

describe('Chromium call relayed through coturn', { timeout: 360_000 }, () => {
  const ready = chromiumPresent() && coturnInstalled;
  let browser: Browser | undefined;
  let coturn: TestCoturn | undefined;
  const people: Participant[] = [];
  const servers: E2eServer[] = [];

  before(async () => {
    if (!ready) return;
    // The SFU binds 127.0.0.1: the one loopback address coturn may relay to. Chromium opens one
    // allocation per network interface and peer connection, so the quota is roomier than in production.
    coturn = await startTestCoturn({ allowedPeers: ['127.0.0.1'], ipv6: false, userQuota: 50 });
    browser = await launchTrusting(coturn.certificate);
  });

  after(async () => {
    for (const p of people) await p.close().catch(() => undefined);
    await browser?.close();
    for (const s of servers) await s.close();
    await coturn?.stop();
  });

  for (const transport of transports) {
    it(`decodes video with iceTransportPolicy relay through ${transport.name}`, async (t) => {
      if (!requireChromium(t) || !requireComponent(t, 'coturn (turnserver)', coturnInstalled)) return;
      const c = coturn!;
      const env = await startE2eServer({
        turn: { enabled: true, secret: c.secret, urls: [transport.url(c)] },
      });
      servers.push(env);
      const session = await env.createSession({ mediaMode: 'routed' });
      const join = async (name: string) => {
        const p = await openParticipant(browser!, env.url);
        people.push(p);
        const token = env.sdk.createToken(session.id, { role: 'publisher', identity: name });
        const joined = await p.call<{ connectionId?: string; error?: string }>('join', token, {
          sessionId: session.id,
          iceTransportPolicy: 'relay',
        });
        assert.equal(joined.error, undefined, `${name} joins`);
        return { p, connectionId: joined.connectionId ?? '' };
      };
      const ann = await join('ann');
      const published = await ann.p.call<{ error?: string }>('publish', {
        audio: false,
        video: true,
        name: 'ann',
      });
      assert.equal(published.error, undefined);
      const ben = await join('ben');

      await eventually(
        "ben decodes ann's video",
        () => ben.p.call<Received[]>('received'),
        (list) =>
          list.some((r) => r.connectionId === ann.connectionId && r.kind === 'video' && r.framesDecoded > 10),
        40_000,
      );
      const path = await ben.p.call<SelectedPath | null>('selectedPath');
      assert.equal(path?.local.type, 'relay', `ben's media goes through the relay: ${JSON.stringify(path)}`);
      assert.equal(path?.remote.address, '127.0.0.1');
      const relayProtocol = await ben.p.page.evaluate(async () => {
        const harness = (
          window as unknown as { harness: { stats(): Promise<{ subscriber: Record<string, unknown>[] }> } }
        ).harness;
        const { subscriber } = await harness.stats();
        const transportStats = subscriber.find((s) => s.type === 'transport' && s.selectedCandidatePairId);
        const pair = subscriber.find((s) => s.id === transportStats?.selectedCandidatePairId);
        const local = subscriber.find((s) => s.id === pair?.localCandidateId);
        return local?.relayProtocol;
      });
      assert.equal(relayProtocol, transport.relayProtocol);
    });
  }
});
