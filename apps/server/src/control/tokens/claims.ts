/**
 * Claim checks shared by participant tokens and REST JWTs: strict types first (a claim of the
 * wrong type is an invalid token, never coerced), then time, with the configured clock skew.
 */
import { ConclaveError } from '@conclave/protocol/errors';
import { type ParticipantTokenClaims, ROLES, type Role, TOKEN_LIMITS } from '@conclave/protocol/tokens';

const MAX_JTI_LENGTH = 200;
const MAX_ISS_LENGTH = 200;

export function requireString(payload: Record<string, unknown>, name: string, maxLength: number): string {
  const value = payload[name];
  if (typeof value !== 'string' || value.length === 0 || value.length > maxLength) {
    throw new ConclaveError('token_invalid');
  }
  return value;
}

/** NumericDate: whole seconds since the epoch. */
export function requireSeconds(payload: Record<string, unknown>, name: string): number {
  const value = payload[name];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new ConclaveError('token_invalid');
  }
  return value;
}

export function readIssuer(payload: Record<string, unknown>): string {
  return requireString(payload, 'iss', MAX_ISS_LENGTH);
}

export function readJti(payload: Record<string, unknown>): string {
  return requireString(payload, 'jti', MAX_JTI_LENGTH);
}

export function readParticipantClaims(payload: Record<string, unknown>): ParticipantTokenClaims {
  const role = payload.role;
  if (typeof role !== 'string' || !(ROLES as readonly string[]).includes(role)) {
    throw new ConclaveError('token_invalid');
  }
  const claims: ParticipantTokenClaims = {
    iss: readIssuer(payload),
    sub: requireString(payload, 'sub', TOKEN_LIMITS.maxIdentityLength),
    sid: requireString(payload, 'sid', 100),
    role: role as Role,
    iat: requireSeconds(payload, 'iat'),
    nbf: payload.nbf === undefined ? requireSeconds(payload, 'iat') : requireSeconds(payload, 'nbf'),
    exp: requireSeconds(payload, 'exp'),
    jti: readJti(payload),
  };
  if (payload.data !== undefined) claims.data = readData(payload.data);
  return claims;
}

function readData(data: unknown): string {
  if (typeof data !== 'string' || Buffer.byteLength(data, 'utf8') > TOKEN_LIMITS.maxDataBytes) {
    throw new ConclaveError('token_invalid');
  }
  return data;
}

export interface TimeWindow {
  iat: number;
  exp: number;
  nbf?: number;
}

/** Checks iat/nbf/exp against `nowSeconds`, tolerating `skewSeconds` either way. */
export function checkTimeWindow(claims: TimeWindow, nowSeconds: number, skewSeconds: number): void {
  if (claims.exp <= claims.iat) throw new ConclaveError('token_invalid');
  if (claims.exp + skewSeconds <= nowSeconds) throw new ConclaveError('token_expired');
  const notBefore = Math.max(claims.iat, claims.nbf ?? claims.iat);
  if (notBefore - skewSeconds > nowSeconds) throw new ConclaveError('token_not_yet_valid');
}
