/**
 * The Conclave server SDK for partner back-ends. It holds the API secret (or private key) and
 * never sends it: REST calls carry a fresh JWT each (60 s, random jti), and participant tokens
 * are minted locally.
 */
import type { KeyObject } from 'node:crypto';
import type {
  CreateSessionRequest,
  ListSessionsQuery,
  RevokeTokensResponse,
  Session,
  SessionList,
} from '@conclave/protocol/rest';
import { type ParticipantTokenClaims, ROLES, type Role, TOKEN_LIMITS } from '@conclave/protocol/tokens';
import { apiErrorFrom, ConclaveApiError } from './errors.ts';
import { newJti, nowSeconds, privateSigningKey, type SigningKey, secretSigningKey, signJwt } from './jwt.ts';
import { fetchTrusting } from './tls-fetch.ts';

/** Lifetime of the JWT signed for one REST call: long enough for clock drift, short for replay. */
const REST_JWT_TTL_SECONDS = 60;

interface CommonOptions {
  /** Base URL of the server, e.g. https://video.example.com */
  url: string;
  apiKey: string;
  /** Replaces the global fetch (proxies, instrumentation, tests). */
  fetch?: typeof fetch;
  /** PEM certificate to trust for an https:// server with a self-signed certificate. */
  ca?: string | Buffer;
  /** Clock in epoch milliseconds (tests). */
  now?: () => number;
}

export type ConclaveOptions =
  | (CommonOptions & { apiSecret: string; privateKey?: never })
  | (CommonOptions & { privateKey: string | KeyObject; apiSecret?: never });

export interface CreateTokenOptions {
  role?: Role;
  /** Participant identity, opaque to Conclave: an id from your own user base. */
  identity: string;
  /** Shown to every participant of the session: never put personal data here. */
  data?: string;
  ttlSeconds?: number;
}

export type RevokeTarget = { jti: string; identity?: never } | { identity: string; jti?: never };

export class Conclave {
  readonly #baseUrl: string;
  readonly #apiKey: string;
  readonly #key: SigningKey;
  readonly #fetch: typeof fetch;
  readonly #now: () => number;

  constructor(options: ConclaveOptions) {
    if (!options.apiKey) throw new TypeError('apiKey is required');
    this.#baseUrl = new URL(options.url).toString().replace(/\/+$/, '');
    this.#apiKey = options.apiKey;
    this.#key =
      options.privateKey !== undefined
        ? privateSigningKey(options.privateKey)
        : secretSigningKey(options.apiSecret ?? '');
    this.#fetch = options.fetch ?? (options.ca !== undefined ? fetchTrusting(options.ca) : fetch);
    this.#now = options.now ?? Date.now;
  }

  createSession(options: CreateSessionRequest = {}): Promise<Session> {
    return this.#request<Session>('POST', '/v1/sessions', options);
  }

  getSession(id: string): Promise<Session> {
    return this.#request<Session>('GET', `/v1/sessions/${encodeURIComponent(id)}`);
  }

  listSessions(query: ListSessionsQuery = {}): Promise<SessionList> {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(query)) {
      if (value !== undefined) params.set(name, String(value));
    }
    const search = params.size > 0 ? `?${params}` : '';
    return this.#request<SessionList>('GET', `/v1/sessions${search}`);
  }

  /** Revoked tokens stop working at once; participants connected with them are disconnected. */
  revokeTokens(sessionId: string, target: RevokeTarget): Promise<RevokeTokensResponse> {
    return this.#request<RevokeTokensResponse>(
      'POST',
      `/v1/sessions/${encodeURIComponent(sessionId)}/tokens/revoke`,
      target,
    );
  }

  /** Mints a participant token locally; nothing is sent to the server. */
  createToken(sessionId: string, options: CreateTokenOptions): string {
    const role = options.role ?? 'publisher';
    const ttl = options.ttlSeconds ?? TOKEN_LIMITS.defaultTtlSeconds;
    checkTokenOptions(sessionId, role, ttl, options);
    const iat = nowSeconds(this.#now);
    const claims: ParticipantTokenClaims = {
      iss: this.#apiKey,
      sub: options.identity,
      sid: sessionId,
      role,
      iat,
      nbf: iat,
      exp: iat + ttl,
      jti: newJti(),
    };
    if (options.data !== undefined) claims.data = options.data;
    return signJwt({ ...claims }, this.#key);
  }

  async #request<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.#restJwt()}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await this.#fetch(`${this.#baseUrl}${path}`, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    } catch (cause) {
      throw new ConclaveApiError('unavailable', 0, 'Conclave could not be reached', { cause });
    }
    if (!response.ok) throw await apiErrorFrom(response);
    return (await response.json()) as T;
  }

  /** A fresh JWT per call: replaying one is refused by the server (jti), and it dies in 60 s. */
  #restJwt(): string {
    const iat = nowSeconds(this.#now);
    return signJwt({ iss: this.#apiKey, iat, exp: iat + REST_JWT_TTL_SECONDS, jti: newJti() }, this.#key);
  }
}

function checkTokenOptions(sessionId: string, role: string, ttl: number, options: CreateTokenOptions): void {
  if (!sessionId) throw new TypeError('sessionId is required');
  if (!(ROLES as readonly string[]).includes(role))
    throw new TypeError(`role must be one of ${ROLES.join(', ')}`);
  if (typeof options.identity !== 'string' || options.identity.length === 0) {
    throw new TypeError('identity is required');
  }
  if (options.identity.length > TOKEN_LIMITS.maxIdentityLength) {
    throw new TypeError(`identity must be at most ${TOKEN_LIMITS.maxIdentityLength} characters`);
  }
  if (options.data !== undefined && Buffer.byteLength(options.data, 'utf8') > TOKEN_LIMITS.maxDataBytes) {
    throw new TypeError(`data must be at most ${TOKEN_LIMITS.maxDataBytes} bytes`);
  }
  if (!Number.isSafeInteger(ttl) || ttl <= 0) throw new TypeError('ttlSeconds must be a positive integer');
}
