/** unpublish: closes the publisher connection; subscribers get consumerClosed, everyone streamDestroyed. */
import { ConclaveError } from '@conclave/protocol/errors';
import type { ClientMessageOf, ReplyResults } from '@conclave/protocol/signaling';
import type { SessionContext } from '../context.ts';

export async function unpublish(
  ctx: SessionContext,
  msg: ClientMessageOf<'unpublish'>,
): Promise<ReplyResults['unpublish']> {
  if (!ctx.participant.publications.has(msg.streamId)) throw new ConclaveError('stream_not_found');
  ctx.room.endStream(msg.streamId, 'unpublished');
  return {};
}
