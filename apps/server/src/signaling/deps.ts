/**
 * What the signaling gateway needs from the rest of the server, as narrow interfaces: the
 * composition root (app.ts) passes the real control and media planes; nothing here reaches into
 * their internals.
 */
import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { IceServerInfo } from '@conclave/protocol/signaling';
import type { Grant, ParticipantTokenClaims } from '@conclave/protocol/tokens';
import type { ControlPlane } from '../control/types.ts';
import type { MediaPlane } from '../media/api.ts';

/** A participant token that verified: signature, lifetime, session binding and revocation. */
export interface VerifiedToken {
  appId: string;
  apiKey: string;
  claims: ParticipantTokenClaims;
  grants: ReadonlySet<Grant>;
}

/** Throws ConclaveError token_* (or session_not_found) when the token is refused. */
export type TokenVerifier = (token: string, expect: { sessionId?: string }) => Promise<VerifiedToken>;

export type IceServersFor = (participant: { connectionId: string; tokenExpiresAt: Date }) => IceServerInfo[];

/** The subset of a pino/fastify logger the gateway uses. Tokens and SDP are never passed to it. */
export interface SignalingLog {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Limits and timings; defaults come from SIGNALING_LIMITS and the config's `signaling` section. */
export interface SignalingSettings {
  maxMessageBytes: number;
  messagesPerSecond: number;
  messageBurst: number;
  joinTimeoutMs: number;
  pingIntervalMs: number;
  resumeWindowMs: number;
  tokenRefreshLeadMs: number;
  /** apiKey -> allowed browser Origins; applications not listed accept any Origin. */
  allowedOrigins: Record<string, string[]>;
}

export interface SignalingDeps {
  http: HttpServer | HttpsServer;
  control: Pick<ControlPlane, 'sessions' | 'revocations'>;
  verifyToken: TokenVerifier;
  /** Absent: routed sessions answer publish/subscribe with media_unavailable. */
  media?: MediaPlane;
  iceServersFor?: IceServersFor;
  settings: SignalingSettings;
  log: SignalingLog;
  now?: () => number;
}
