/**
 * The composition root: the one place that builds every plane and wires them together.
 *
 *   control (store, keys, tokens, REST, audit)   <- signaling gateway -> media plane (SFU)
 *
 * Dependencies point one way: the media plane knows nothing above it; signaling uses control
 * (token verification) and media; REST uses control and, for revocation, asks signaling to
 * disconnect live participants through a callback wired here.
 */
import { mkdir } from 'node:fs/promises';
import type { Server as HttpServer } from 'node:http';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Config } from './config/index.ts';
import { openControlPlane } from './control/index.ts';
import { registerRestApi } from './control/rest/index.ts';
import { participantTokenVerifier } from './control/tokens/index.ts';
import type { ControlPlane } from './control/types.ts';
import { registerDemo } from './demo/index.ts';
import { installSecurityHeaders } from './http/security-headers.ts';
import { assertListenSecurity, loadTls, TLS_OPTIONS, type TlsMaterial } from './http/tls.ts';
import { createMediaPlane, type LocalMediaPlane, type MediaPlaneOptions } from './media/index.ts';
import { attachSignaling, type SignalingGateway } from './signaling/index.ts';
import { startCoturn } from './turn/coturn-process.ts';
import { turnIceServersFor } from './turn/credentials.ts';

export interface StartOptions {
  /** Where the JSON log goes (default stdout). Tests capture it to check what is logged. */
  logStream?: Writable;
}

export interface RunningServer {
  /** Base URL, e.g. http://127.0.0.1:7880 */
  url: string;
  config: Config;
  control: ControlPlane;
  fastify: FastifyInstance;
  http: HttpServer;
  tls: TlsMaterial | null;
  media: LocalMediaPlane;
  signaling: SignalingGateway;
  close(): Promise<void>;
}

export async function startServer(config: Config, options: StartOptions = {}): Promise<RunningServer> {
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  const tls = await loadTls(config);
  assertListenSecurity(config, tls);

  const control = await openControlPlane(config);
  const closers: (() => Promise<void> | void)[] = [() => control.close()];
  const fastify = createHttp(config, tls, options.logStream);
  const http = fastify.server as HttpServer;
  const log = fastify.log;
  let media: LocalMediaPlane;
  let signaling: SignalingGateway;
  try {
    installSecurityHeaders(fastify, { hsts: tls !== null });
    fastify.get('/healthz', async () => ({ status: 'ok' as const }));

    // --- Planes register here, in dependency order (media, REST, signaling, demo). ---
    if (config.turn.spawn) {
      // Development convenience: coturn as a child process with the hardened configuration.
      const coturn = await startCoturn(config, {
        configPath: join(config.dataDir, 'turnserver.conf'),
        onLog: (line) => log.debug({ coturn: line }, 'coturn'),
      });
      closers.push(() => coturn.stop());
    }
    media = await createMediaPlane(mediaOptionsFrom(config));
    closers.push(() => media.close());
    await registerRestApi(fastify, {
      control,
      config,
      onRevoke: async (sessionId, _appId, target) => signaling.disconnect(sessionId, target),
    });
    signaling = attachSignaling({
      http,
      fastify,
      control,
      config,
      media,
      log,
      verifyToken: participantTokenVerifier({ ...control, tokens: config.tokens }),
      iceServersFor: (participant) => turnIceServersFor(config, participant),
    });
    await registerDemo(fastify, { config, control });
    // --- End of plane registrations. ---

    await fastify.listen({ host: config.server.host, port: config.server.port });
  } catch (err) {
    await closeAll([() => fastify.close(), ...closers]);
    throw err;
  }

  const address = http.address();
  const port = typeof address === 'object' && address ? address.port : config.server.port;
  const host = config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host;
  const url = `${tls ? 'https' : 'http'}://${host}:${port}`;
  let closed: Promise<void> | undefined;
  return {
    url,
    config,
    control,
    fastify,
    http,
    tls,
    media,
    signaling,
    close: () => {
      closed ??= closeAll([() => fastify.close(), ...closers.reverse()]).then(() => log.info('stopped'));
      return closed;
    },
  };
}

function mediaOptionsFrom(config: Config): MediaPlaneOptions {
  const m = config.media;
  return {
    workers: m.workers,
    bindAddress: m.bindAddress,
    rtcPort: m.rtcPort,
    ...(m.announcedAddress ? { announcedAddress: m.announcedAddress } : {}),
    preferAes256Gcm: m.preferAes256Gcm,
    pliThrottleMs: m.pliThrottleMs,
    maxPublishBitrate: m.maxPublishBitrate,
    tiebreakerRelayPort: m.tiebreakerRelay ? m.tiebreakerRelayPort : null,
  };
}

function createHttp(config: Config, tls: TlsMaterial | null, logStream?: Writable): FastifyInstance {
  const logger = {
    level: config.log.level,
    // Authorization carries the partner's signed JWT: never write it anywhere.
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie'], censor: '[redacted]' },
    ...(logStream ? { stream: logStream } : {}),
  };
  const common = {
    logger,
    bodyLimit: config.api.bodyLimitBytes,
    trustProxy: config.server.trustProxy,
    // JSON bodies are parsed into plain objects with __proto__/constructor keys refused.
    onProtoPoisoning: 'error' as const,
    onConstructorPoisoning: 'error' as const,
    return503OnClosing: true,
    // A client trickling its request a byte at a time must not hold a connection forever.
    requestTimeout: 30_000,
  };
  if (tls) {
    return Fastify({
      ...common,
      https: { ...TLS_OPTIONS, cert: tls.cert, key: tls.key },
    }) as unknown as FastifyInstance;
  }
  return Fastify(common) as unknown as FastifyInstance;
}

/** Closes in order, going on past failures so one broken plane cannot leak the others. */
async function closeAll(steps: (() => Promise<void> | void)[]): Promise<void> {
  for (const step of steps) {
    try {
      await step();
    } catch {
      // Nothing useful to do while shutting down; the remaining planes still need closing.
    }
  }
}
