/**
 * Signaling gateway entry point for the composition root:
 *
 *   const signaling = attachSignaling({ http, fastify, control, config, media, log, verifyToken });
 *   signaling.disconnect(sessionId, { jti })   // REST revocation closes live participants
 *
 * docs/protocol.md describes the wire protocol.
 */
import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { SIGNALING_LIMITS } from '@conclave/protocol/signaling';
import type { Config } from '../config/index.ts';
import type { ControlPlane } from '../control/types.ts';
import type { MediaPlane } from '../media/api.ts';
import type { IceServersFor, SignalingLog, SignalingSettings, TokenVerifier } from './deps.ts';
import { createSignalingGateway, type SignalingGateway } from './gateway.ts';

export type { IceServersFor, SignalingSettings, TokenVerifier, VerifiedToken } from './deps.ts';
export type { SignalingGateway } from './gateway.ts';
export { createSignalingGateway } from './gateway.ts';

export interface AttachSignalingOptions {
  http: HttpServer | HttpsServer;
  /** When given, the gateway closes its WebSockets before Fastify waits for connections to end. */
  fastify?: { addHook(name: 'preClose', hook: () => Promise<void>): unknown };
  control: Pick<ControlPlane, 'sessions' | 'revocations'>;
  config: Pick<Config, 'signaling'>;
  media?: MediaPlane;
  log: SignalingLog;
  verifyToken: TokenVerifier;
  iceServersFor?: IceServersFor;
}

export function attachSignaling(options: AttachSignalingOptions): SignalingGateway {
  const gateway = createSignalingGateway({
    http: options.http,
    control: options.control,
    verifyToken: options.verifyToken,
    ...(options.media ? { media: options.media } : {}),
    ...(options.iceServersFor ? { iceServersFor: options.iceServersFor } : {}),
    settings: settingsFrom(options.config),
    log: options.log,
  });
  options.fastify?.addHook('preClose', () => gateway.close());
  return gateway;
}

export function settingsFrom(config: Pick<Config, 'signaling'>): SignalingSettings {
  const s = config.signaling;
  return {
    maxMessageBytes: s.maxMessageBytes,
    messagesPerSecond: s.messagesPerSecond,
    messageBurst: s.messageBurst,
    joinTimeoutMs: s.joinTimeoutMs,
    pingIntervalMs: s.pingIntervalMs,
    resumeWindowMs: s.resumeWindowMs,
    tokenRefreshLeadMs: SIGNALING_LIMITS.tokenRefreshLeadMs,
    allowedOrigins: s.allowedOrigins,
  };
}
