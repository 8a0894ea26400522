/**
 * The two token verifiers: participant tokens (signaling, and anything else that admits a
 * participant) and the short-lived JWTs a partner back-end signs for each REST call. Both
 * throw ConclaveError with a token_* code; callers decide how much of it to show (REST shows
 * none of it, signaling shows the code).
 */
import { ConclaveError } from '@conclave/protocol/errors';
import {
  type ApiTokenClaims,
  type Grant,
  grantsOf,
  type ParticipantTokenClaims,
  TOKEN_LIMITS,
} from '@conclave/protocol/tokens';
import type { ApplicationService, RevocationService, SessionService, VerificationKeys } from '../types.ts';
import { checkTimeWindow, readIssuer, readJti, readParticipantClaims, requireSeconds } from './claims.ts';
import { type DecodedJws, decodeJws, verifyJwsSignature } from './jws.ts';
import type { ReplayCache } from './replay-cache.ts';

export interface TokenLimits {
  /** Longest participant token lifetime accepted (exp - iat). */
  maxLifetimeSeconds: number;
  clockSkewSeconds: number;
}

export interface ParticipantTokenDeps {
  apps: Pick<ApplicationService, 'verificationKeys'>;
  revocations: Pick<RevocationService, 'isRevoked'>;
  /** When given, the token's session must exist and belong to the token's application. */
  sessions?: Pick<SessionService, 'get'>;
  tokens: TokenLimits;
  /** Clock in epoch milliseconds. */
  now?: () => number;
}

export interface VerifiedParticipantToken {
  appId: string;
  apiKey: string;
  claims: ParticipantTokenClaims;
  grants: ReadonlySet<Grant>;
}

export interface ApiTokenDeps {
  apps: Pick<ApplicationService, 'verificationKeys'>;
  tokens: Pick<TokenLimits, 'clockSkewSeconds'>;
  replay: ReplayCache;
  now?: () => number;
}

export interface VerifiedApiToken {
  appId: string;
  apiKey: string;
  claims: ApiTokenClaims;
}

/** Claims that mark a participant token; a REST JWT carrying one is refused. */
const PARTICIPANT_ONLY_CLAIMS = ['sid', 'sub', 'role', 'data'];

/**
 * Verifies a participant token for `sessionId` (when omitted, for the session the token names).
 * Order matters: nothing about the claims is trusted, or reported, before the signature holds.
 */
export async function verifyParticipantToken(
  token: string,
  expect: { sessionId?: string; now?: number },
  deps: ParticipantTokenDeps,
): Promise<VerifiedParticipantToken> {
  const jws = decodeJws(token);
  const keys = await verifiedKeys(jws, deps.apps);
  const claims = readParticipantClaims(jws.payload);
  const nowSeconds = Math.floor((expect.now ?? deps.now?.() ?? Date.now()) / 1000);
  checkTimeWindow(claims, nowSeconds, deps.tokens.clockSkewSeconds);
  if (claims.exp - claims.iat > deps.tokens.maxLifetimeSeconds) {
    throw new ConclaveError('token_lifetime_too_long');
  }
  await checkSession(claims, expect.sessionId, keys.appId, deps.sessions);
  if (await deps.revocations.isRevoked(claims.sid, claims)) throw new ConclaveError('token_revoked');
  return { appId: keys.appId, apiKey: keys.apiKey, claims, grants: grantsOf(claims.role) };
}

/** Verifies the Bearer JWT of one REST call and records its jti so it cannot be replayed. */
export async function verifyApiToken(token: string, deps: ApiTokenDeps): Promise<VerifiedApiToken> {
  const jws = decodeJws(token);
  const keys = await verifiedKeys(jws, deps.apps);
  const { payload } = jws;
  // A participant token is signed with the same secret and handed to browsers: it must never
  // open the REST API.
  if (PARTICIPANT_ONLY_CLAIMS.some((claim) => payload[claim] !== undefined)) {
    throw new ConclaveError('token_invalid');
  }
  const claims: ApiTokenClaims = {
    iss: keys.apiKey,
    iat: requireSeconds(payload, 'iat'),
    exp: requireSeconds(payload, 'exp'),
    jti: readJti(payload),
  };
  const nbf = payload.nbf === undefined ? claims.iat : requireSeconds(payload, 'nbf');
  const nowSeconds = Math.floor((deps.now?.() ?? Date.now()) / 1000);
  const skew = deps.tokens.clockSkewSeconds;
  checkTimeWindow({ ...claims, nbf }, nowSeconds, skew);
  if (claims.exp > nowSeconds + TOKEN_LIMITS.maxApiTokenLifetimeSeconds + skew) {
    throw new ConclaveError('token_lifetime_too_long');
  }
  if (!deps.replay.remember(keys.apiKey, claims.jti, claims.exp + skew, nowSeconds)) {
    throw new ConclaveError('token_revoked', 'The token was already used');
  }
  return { appId: keys.appId, apiKey: keys.apiKey, claims };
}

/** Resolves the issuer's keys and checks the signature; kid, when present, must name the issuer. */
async function verifiedKeys(
  jws: DecodedJws,
  apps: Pick<ApplicationService, 'verificationKeys'>,
): Promise<VerificationKeys> {
  const iss = readIssuer(jws.payload);
  if (jws.header.kid !== undefined && jws.header.kid !== iss) throw new ConclaveError('token_invalid');
  const keys = await apps.verificationKeys(iss);
  if (!keys || !verifyJwsSignature(jws, keys)) throw new ConclaveError('token_invalid');
  return keys;
}

/**
 * The token must name the session asked for, and that session must belong to the token's
 * application. A token of application B for application A's session gets the same answer as
 * any other mismatch, so it learns nothing about A.
 */
async function checkSession(
  claims: ParticipantTokenClaims,
  sessionId: string | undefined,
  appId: string,
  sessions: Pick<SessionService, 'get'> | undefined,
): Promise<void> {
  if (sessionId !== undefined && claims.sid !== sessionId) throw new ConclaveError('token_wrong_session');
  if (sessions && !(await sessions.get(appId, claims.sid))) throw new ConclaveError('token_wrong_session');
}
