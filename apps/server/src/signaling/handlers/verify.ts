/** Token checks shared by join and refreshToken. */
import { ConclaveError } from '@conclave/protocol/errors';
import type { GatewayContext } from '../context.ts';
import type { VerifiedToken } from '../deps.ts';

export async function verifyForSession(
  gateway: GatewayContext,
  token: string,
  sessionId: string | undefined,
): Promise<VerifiedToken> {
  const verified = await gateway.deps.verifyToken(token, sessionId ? { sessionId } : {});
  const { claims } = verified;
  if (sessionId !== undefined && claims.sid !== sessionId) throw new ConclaveError('token_wrong_session');
  const revoked = await gateway.deps.control.revocations.isRevoked(claims.sid, claims);
  if (revoked) throw new ConclaveError('token_revoked');
  return verified;
}
