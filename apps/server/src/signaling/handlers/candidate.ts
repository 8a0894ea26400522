/** candidate: a trickled ICE candidate for the subscriber connection or one publisher connection. */
import { ConclaveError } from '@conclave/protocol/errors';
import type { ClientMessageOf } from '@conclave/protocol/signaling';
import type { IceCandidateInit } from '../../media/api.ts';
import { NO_REPLY, type SessionContext } from '../context.ts';

export async function candidate(
  ctx: SessionContext,
  msg: ClientMessageOf<'candidate'>,
): Promise<typeof NO_REPLY> {
  const target = await transportFor(ctx, msg.target);
  const init: IceCandidateInit = { candidate: msg.candidate.candidate, sdpMid: msg.candidate.sdpMid ?? null };
  try {
    target.addRemoteCandidate(init);
  } catch {
    throw new ConclaveError('invalid_request', 'The ICE candidate is not valid');
  }
  return NO_REPLY;
}

async function transportFor(
  ctx: SessionContext,
  target: string,
): Promise<{ addRemoteCandidate(c: IceCandidateInit): void }> {
  if (target === 'subscriber') {
    if (!ctx.participant.subscriber)
      throw new ConclaveError('invalid_request', 'No subscriber connection yet');
    return ctx.participant.subscriber;
  }
  const publication = ctx.participant.publications.get(target);
  if (!publication) throw new ConclaveError('stream_not_found');
  return publication;
}
