/**
 * A real signaling gateway for tests: the real control plane (SQLite in a temp dir), the real
 * media plane (one worker on loopback) and the gateway attached to a plain HTTP server on an
 * ephemeral port. Tokens are real HS256 JWTs signed with the application's secret.
 *
 * The token verifier here stands in for control/tokens (written in parallel); it checks what
 * the gateway relies on: signature, lifetime, session binding.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { CreateSessionRequest, Session } from '@conclave/protocol/rest';
import { SIGNALING_LIMITS } from '@conclave/protocol/signaling';
import type { ParticipantTokenClaims, Role } from '@conclave/protocol/tokens';
import { openControlPlane } from '@conclave/server/control/index';
import { participantTokenVerifier } from '@conclave/server/control/tokens/index';
import type { ApplicationCredentials, ControlPlane } from '@conclave/server/control/types';
import { createMediaPlane, type LocalMediaPlane } from '@conclave/server/media/index';
import {
  createSignalingGateway,
  type SignalingGateway,
  type SignalingSettings,
} from '@conclave/server/signaling/index';
import { NodeClient } from '../support/node-client.ts';

const SYSTEM = { id: 'system', source: 'local' };

export interface Harness {
  url: string;
  http: Server;
  control: ControlPlane;
  media: LocalMediaPlane | undefined;
  gateway: SignalingGateway;
  app: ApplicationCredentials;
  createApp(name: string): Promise<ApplicationCredentials>;
  createSession(options?: CreateSessionRequest, app?: ApplicationCredentials): Promise<Session>;
  token(session: Session, claims?: Partial<ParticipantTokenClaims>, app?: ApplicationCredentials): string;
  /** Joins a Node client with a fresh token for `session`; closed with the harness. */
  join(session: Session, claims?: Partial<ParticipantTokenClaims> & { role?: Role }): Promise<NodeClient>;
  track(client: NodeClient): NodeClient;
  /** Server-side log lines, to check that no token is ever logged. */
  logLines: string[];
}

export interface HarnessOptions {
  /** Overrides of the defaults; a function gets the test application (allow-lists are per API key). */
  settings?: Partial<SignalingSettings> | ((app: ApplicationCredentials) => Partial<SignalingSettings>);
  /** Start a media plane (default true). */
  media?: boolean;
}

export async function startHarness(t: TestContext, options: HarnessOptions = {}): Promise<Harness> {
  const dataDir = await mkdtemp(join(tmpdir(), 'conclave-signaling-'));
  const control = await openControlPlane(
    {
      dataDir,
      database: { url: '' },
      masterKeyFile: '',
      tokens: { maxLifetimeSeconds: 3600, clockSkewSeconds: 30 },
      secrets: { rotationOverlapSeconds: 86400 },
      audit: { retentionDays: 180 },
    },
    { env: {} },
  );
  const media =
    options.media === false
      ? undefined
      : await createMediaPlane({
          workers: 1,
          bindAddress: '127.0.0.1',
          rtcPort: 0,
          preferAes256Gcm: true,
          pliThrottleMs: 300,
        });
  const createApp = (name: string) => control.apps.create(name, SYSTEM);
  const app = await createApp(`app-${randomUUID()}`);
  const overrides = typeof options.settings === 'function' ? options.settings(app) : options.settings;
  const http = createServer((_req, res) => res.writeHead(404).end());
  const logLines: string[] = [];
  const record = (level: string) => (obj: object, msg?: string) => {
    logLines.push(
      `${level} ${msg ?? ''} ${JSON.stringify(obj, (_k, v) => (v instanceof Error ? v.message : v))}`,
    );
  };
  const gateway = createSignalingGateway({
    http,
    control,
    verifyToken: participantTokenVerifier({
      ...control,
      tokens: { maxLifetimeSeconds: 3600, clockSkewSeconds: 30 },
    }),
    ...(media ? { media } : {}),
    settings: { ...defaultSettings(), ...overrides },
    log: { debug: record('debug'), info: record('info'), warn: record('warn'), error: record('error') },
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const address = http.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  const clients = new Set<NodeClient>();
  const harness: Harness = {
    url,
    http,
    control,
    media,
    gateway,
    app,
    createApp,
    createSession: (request = {}, owner = app) => control.sessions.create(owner.appId, request, SYSTEM),
    token: (session, claims = {}, owner = app) => mintToken(owner, session.id, claims),
    async join(session, claims = {}) {
      return harness.track(await NodeClient.connect(url, mintToken(app, session.id, claims)));
    },
    track(client) {
      clients.add(client);
      return client;
    },
    logLines,
  };
  t.after(async () => {
    for (const client of clients) await client.close().catch(() => {});
    await gateway.close();
    await new Promise((resolve) => http.close(resolve));
    await media?.close();
    await control.close();
    await rm(dataDir, { recursive: true, force: true });
  });
  return harness;
}

function defaultSettings(): SignalingSettings {
  return {
    maxMessageBytes: SIGNALING_LIMITS.maxMessageBytes,
    messagesPerSecond: SIGNALING_LIMITS.messagesPerSecond,
    messageBurst: SIGNALING_LIMITS.messageBurst,
    joinTimeoutMs: SIGNALING_LIMITS.joinTimeoutMs,
    pingIntervalMs: SIGNALING_LIMITS.pingIntervalMs,
    resumeWindowMs: SIGNALING_LIMITS.resumeWindowMs,
    tokenRefreshLeadMs: SIGNALING_LIMITS.tokenRefreshLeadMs,
    allowedOrigins: {},
  };
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

export function mintToken(
  app: ApplicationCredentials,
  sessionId: string,
  claims: Partial<ParticipantTokenClaims> = {},
): string {
  const now = Math.floor(Date.now() / 1000);
  const payload: ParticipantTokenClaims = {
    iss: app.apiKey,
    sub: `user-${randomUUID()}`,
    sid: sessionId,
    role: 'publisher',
    iat: now,
    nbf: now,
    exp: now + 600,
    jti: randomUUID(),
    ...claims,
  };
  const signingInput = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(payload)}`;
  const signature = createHmac('sha256', app.apiSecret).update(signingInput).digest('base64url');
  return `${signingInput}.${signature}`;
}
