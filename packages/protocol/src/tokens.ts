/**
 * Participant tokens: what a partner back-end mints (with @conclave/server-sdk) and a browser
 * presents to the signaling gateway. A token is a compact JWS (JWT) signed with the
 * application's API secret (HS256) or with its registered private key (EdDSA, ES256).
 */

export const ROLES = ['subscriber', 'publisher', 'moderator'] as const;
export type Role = (typeof ROLES)[number];

export const GRANTS = ['subscribe', 'publish', 'publishData', 'moderate'] as const;
export type Grant = (typeof GRANTS)[number];

/** A role is shorthand for an explicit, fixed set of grants; the server only ever checks grants. */
export const ROLE_GRANTS: Readonly<Record<Role, readonly Grant[]>> = {
  subscriber: ['subscribe', 'publishData'],
  publisher: ['subscribe', 'publish', 'publishData'],
  moderator: ['subscribe', 'publish', 'publishData', 'moderate'],
};

export function grantsOf(role: Role): ReadonlySet<Grant> {
  return new Set(ROLE_GRANTS[role]);
}

export interface ParticipantTokenClaims {
  /** API key of the application that signed the token. */
  iss: string;
  /** Participant identity, opaque to Conclave (an id from the partner's own user base). */
  sub: string;
  /** Session id the token is bound to. */
  sid: string;
  role: Role;
  /** Connection data shown to every participant of the session: never personal data. */
  data?: string;
  iat: number;
  nbf: number;
  exp: number;
  jti: string;
}

/** Claims of the short-lived JWT a partner back-end signs for each REST call. */
export interface ApiTokenClaims {
  iss: string;
  iat: number;
  exp: number;
  jti: string;
}

export const TOKEN_LIMITS = {
  /** Tokens above this size are refused before any parsing. */
  maxTokenBytes: 8192,
  /** Connection data visible to all participants. */
  maxDataBytes: 1000,
  maxIdentityLength: 256,
  /** Default participant token lifetime minted by the server SDK. */
  defaultTtlSeconds: 600,
  /** Default server-side maximum participant token lifetime (configurable). */
  defaultMaxLifetimeSeconds: 3600,
  /** REST JWTs may not expire further ahead than this. */
  maxApiTokenLifetimeSeconds: 300,
} as const;

/** JWS algorithms Conclave accepts, by the kind of key an application registered. */
export type TokenAlgorithm = 'HS256' | 'EdDSA' | 'ES256';
