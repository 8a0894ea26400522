/**
 * The real server for abuse tests: startServer on loopback, port 0, its own temp dataDir and
 * SQLite, one media worker on a free UDP port, and whatever config overrides a test needs.
 * Applications are created through the running control plane; REST calls carry fresh JWTs
 * signed as the server SDK signs them.
 */
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { secretSigningKey, signJwt } from '@conclave/server-sdk';
import { type RunningServer, startServer } from '../../src/app.ts';
import { type DeepPartial, loadConfig } from '../../src/config/index.ts';
import type { ConfigInput } from '../../src/config/schema.ts';
import type { ApplicationCredentials } from '../../src/control/types.ts';

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
  const dataDir = await mkdtemp(join(tmpdir(), 'conclave-security-'));
  const rtcPort = await freeUdpPort();
  const config = loadConfig({
    argv: ['--log.level=silent'],
    env: {},
    cwd: dataDir,
    overrides: {
      dataDir,
      database: { url: '' },
      server: { host: '127.0.0.1', port: 0 },
      ...overrides,
      media: { workers: 1, rtcPort, bindAddress: '127.0.0.1', ...overrides.media },
    },
  });
  const server = await startServer(config);
  t.after(async () => {
    await server.close();
    await rm(dataDir, { recursive: true, force: true });
  });
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
export async function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}
