/**
 * Token verification for the control plane. The signaling gateway takes its verifier from
 * `participantTokenVerifier(deps)`; the REST API uses `verifyApiToken` in its auth hook.
 */
import {
  type ParticipantTokenDeps,
  type VerifiedParticipantToken,
  verifyParticipantToken,
} from './verify.ts';

export { decodeJws, verifyJwsSignature } from './jws.ts';
export { ReplayCache } from './replay-cache.ts';
export type {
  ApiTokenDeps,
  ParticipantTokenDeps,
  TokenLimits,
  VerifiedApiToken,
  VerifiedParticipantToken,
} from './verify.ts';
export { verifyApiToken, verifyParticipantToken } from './verify.ts';

/** The participant token check bound to its dependencies, in the shape signaling expects. */
export function participantTokenVerifier(
  deps: ParticipantTokenDeps,
): (token: string, expect: { sessionId?: string }) => Promise<VerifiedParticipantToken> {
  return (token, expect) => verifyParticipantToken(token, expect, deps);
}
