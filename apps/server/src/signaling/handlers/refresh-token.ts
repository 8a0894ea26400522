/** refreshToken: a fresh token for the same session and identity pushes the expiry back. */
import { ConclaveError } from '@conclave/protocol/errors';
import type { ClientMessageOf, ReplyResults } from '@conclave/protocol/signaling';
import type { SessionContext } from '../context.ts';
import { verifyForSession } from './verify.ts';

export async function refreshToken(
  ctx: SessionContext,
  msg: ClientMessageOf<'refreshToken'>,
): Promise<ReplyResults['refreshToken']> {
  const { participant, room } = ctx;
  const token = await verifyForSession(ctx.gateway, msg.token, room.sessionId);
  if (token.claims.sub !== participant.identity) {
    throw new ConclaveError('token_wrong_session', 'The token is for another participant');
  }
  participant.tokenIds.add(token.claims.jti);
  participant.tokenExpiresAt = token.claims.exp * 1000;
  ctx.gateway.scheduleExpiry(room, participant);
  return { tokenExpiresAt: new Date(participant.tokenExpiresAt).toISOString() };
}
