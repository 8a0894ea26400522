/**
 * The real server for abuse tests: bootTestServer (loopback, port 0, its own temp dataDir and
 * SQLite, one media worker) with that worker on a known free UDP port, and whatever config
 * overrides a test needs. Applications are created through the running control plane; REST
 * calls carry fresh JWTs signed as the server SDK signs them.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import { Conclave, secretSigningKey, signJwt } from '@conclave/server-sdk';
import type { RunningServer } from '../../src/app.ts';
import type { DeepPartial } from '../../src/config/index.ts';
import type { ConfigInput } from '../../src/config/schema.ts';
import type { ApplicationCredentials } from '../../src/control/types.ts';
import { pickUdpPort } from '../../src/media/worker/start.ts';
import { NodeClient } from '../support/node-client.ts';
import { bootTestServer } from '../support/server.ts';

export interface AbuseServer {
  server: RunningServer;
  url: string;
  rtcPort: number;
  createApp(name: string): Promise<ApplicationCredentials>;
  /** A fresh single-use REST JWT for `app`. */
  bearer(app: ApplicationCredentials): string;
  /** Fails unless the server still answers /healthz with 200 {status:"ok"}. */
  assertHealthy(): Promise<void>;
}

export async function bootAbuseServer(
  t: TestContext,
  overrides: DeepPartial<ConfigInput> = {},
): Promise<AbuseServer> {
  // A fixed port, not 0: the media-port abuse tests aim datagrams at it.
  const rtcPort = await freeUdpPort();
  const { server, close } = await bootTestServer({
    name: 'security',
    overrides: { ...overrides, media: { rtcPort, ...overrides.media } },
  });
  t.after(close);
  return {
    server,
    url: server.url,
    rtcPort,
    createApp: (name) => server.control.apps.create(name, { id: 'test:security', source: 'local' }),
    bearer: (app) => {
      const now = Math.floor(Date.now() / 1000);
      return `Bearer ${signJwt({ iss: app.apiKey, iat: now, exp: now + 60, jti: randomBytes(16).toString('base64url') }, secretSigningKey(app.apiSecret))}`;
    },
    assertHealthy: async () => {
      const response = await fetch(`${server.url}/healthz`);
      if (response.status !== 200) throw new Error(`/healthz answered ${response.status}`);
      const body = (await response.json()) as { status?: string };
      if (body.status !== 'ok') throw new Error(`/healthz said ${JSON.stringify(body)}`);
    },
  };
}

/** A UDP port that was free a moment ago (the media worker binds it right after). */
export function freeUdpPort(): Promise<number> {
  return pickUdpPort('127.0.0.1');
}

/**
 * Two participants in one session of their own application: alice publishes video, bob
 * subscribes. `assertUnaffected()` fails unless they still exchange a signal, bob's video keeps
 * arriving and /healthz answers.
 */
export interface Bystanders {
  app: ApplicationCredentials;
  sessionId: string;
  token(identity: string): string;
  assertUnaffected(): Promise<void>;
  /** Video packets bob has received so far. */
  packets(): number;
  /** The SDP offer the server sent bob's subscriber connection (its ICE ufrag and candidates). */
  serverOffer(): string;
  /** Bob, the subscribing bystander (tests may subscribe him to more streams). */
  subscriber: NodeClient;
  /** What bob has received of alice's video so far (packets, sequence gaps). */
  received(): { packets: number; sequenceGaps: number };
}

export async function startBystanders(t: TestContext, s: AbuseServer): Promise<Bystanders> {
  const app = await s.createApp(`bystanders-${randomBytes(4).toString('hex')}`);
  const session = await s.server.control.sessions.create(
    app.appId,
    {},
    { id: 'test:security', source: 'local' },
  );
  const sdk = new Conclave({ url: s.url, apiKey: app.apiKey, apiSecret: app.apiSecret });
  const token = (identity: string) => sdk.createToken(session.id, { identity });
  const alice = await NodeClient.connect(s.url, token('alice'));
  const bob = await NodeClient.connect(s.url, token('bob'));
  t.after(async () => {
    await alice.close();
    await bob.close();
  });
  const { streamId } = await alice.publish({ kind: 'video' });
  const { mid, peer } = await bob.subscribe(streamId);
  await peer.waitFor(() => bob.packetsOn(mid) > 0, 15_000, 'bystander video');
  let round = 0;
  return {
    app,
    sessionId: session.id,
    token,
    packets: () => bob.packetsOn(mid),
    serverOffer: () => bob.eventsOf('subscriberOffer')[0]?.sdp ?? '',
    subscriber: bob,
    received: () => {
      const stream = peer.streamForMid(mid);
      return { packets: stream?.packets ?? 0, sequenceGaps: stream?.sequenceGaps ?? 0 };
    },
    async assertUnaffected() {
      const before = bob.packetsOn(mid);
      const marker = `still-here-${round++}`;
      await alice.signal('check', marker, [bob.connectionId]);
      await bob.waitFor('signal', (e) => e.data === marker, 10_000);
      await peer.waitFor(() => bob.packetsOn(mid) > before + 20, 10_000, 'more bystander packets');
      assert.equal(
        bob.eventsOf('connectionDestroyed').filter((e) => e.connectionId === alice.connectionId).length,
        0,
        'bob never saw alice leave',
      );
      assert.equal(
        bob.eventsOf('streamDestroyed').filter((e) => e.streamId === streamId).length,
        0,
        "alice's stream never ended",
      );
      await s.assertHealthy();
    },
  };
}
