/**
 * Contracts of the control plane: what the REST API, the signaling gateway and the CLI use.
 * The store (SQLite or PostgreSQL) sits below these services and is not used directly by
 * anything outside `control/`.
 */
import type { KeyObject } from 'node:crypto';
import type { CreateSessionRequest, ListSessionsQuery, Session } from '@conclave/protocol/rest';
import type { TokenAlgorithm } from '@conclave/protocol/tokens';

/** Who did something, for the audit trail. */
export interface Actor {
  /** `app:<apiKey>` for partner back-ends, `cli:<os user>` for operators, `system` otherwise. */
  id: string;
  /** Source address (IP) or `local` for the CLI. */
  source: string;
}

export interface Application {
  appId: string;
  name: string;
  apiKey: string;
  createdAt: Date;
  /** Present when the application signs with its own private key instead of the shared secret. */
  publicKey: { algorithm: Extract<TokenAlgorithm, 'EdDSA' | 'ES256'>; pem: string } | null;
}

/** Returned once, at creation or rotation: the only time the secret leaves the server. */
export interface ApplicationCredentials {
  appId: string;
  apiKey: string;
  apiSecret: string;
}

/**
 * Key material that may verify a JWT signed for this application, resolved from its API key.
 * `secrets` holds the current secret first, then secrets still inside their rotation overlap.
 * When `publicKey` is set, only that key verifies tokens (the shared secret is not accepted).
 */
export interface VerificationKeys {
  appId: string;
  apiKey: string;
  secrets: Buffer[];
  publicKey: { algorithm: 'EdDSA' | 'ES256'; key: KeyObject } | null;
}

export interface ApplicationService {
  create(name: string, actor: Actor): Promise<ApplicationCredentials>;
  list(): Promise<Application[]>;
  /** Accepts an app id, an API key or a unique name. */
  find(ref: string): Promise<Application | null>;
  rotateSecret(ref: string, actor: Actor, overlapSeconds?: number): Promise<ApplicationCredentials>;
  setPublicKey(ref: string, pem: string, actor: Actor): Promise<Application>;
  delete(ref: string, actor: Actor): Promise<void>;
  verificationKeys(apiKey: string): Promise<VerificationKeys | null>;
}

export interface SessionService {
  create(appId: string, options: CreateSessionRequest, actor: Actor): Promise<Session>;
  /** Returns null for a session of another application: callers answer 404 either way. */
  get(appId: string, sessionId: string): Promise<Session | null>;
  list(appId: string, query: ListSessionsQuery): Promise<{ sessions: Session[]; nextCursor: string | null }>;
}

export interface RevocationService {
  revoke(
    appId: string,
    sessionId: string,
    target: { jti?: string; identity?: string },
    actor: Actor,
  ): Promise<void>;
  /** True when the token's jti was revoked, or its identity was revoked at or after `iat`. */
  isRevoked(sessionId: string, token: { jti: string; sub: string; iat: number }): Promise<boolean>;
}

export interface AuditEntry {
  seq: number;
  at: Date;
  actor: string;
  action: string;
  target: string;
  source: string;
  details: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

export interface AuditLog {
  append(actor: Actor, action: string, target: string, details?: Record<string, unknown>): Promise<void>;
  /** Newest first; `sinceSeq` returns only records after that sequence number. */
  list(options?: { limit?: number; sinceSeq?: number }): Promise<AuditEntry[]>;
  /** Walks the hash chain; names the first record that was altered or whose predecessor is gone. */
  verify(): Promise<
    { ok: true; checked: number } | { ok: false; checked: number; brokenSeq: number; reason: string }
  >;
  /** Removes records older than the retention; the chain stays verifiable from an anchor. */
  prune(now?: Date): Promise<number>;
}

export interface ControlPlane {
  apps: ApplicationService;
  sessions: SessionService;
  revocations: RevocationService;
  audit: AuditLog;
  close(): Promise<void>;
}
