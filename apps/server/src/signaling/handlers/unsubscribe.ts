/** unsubscribe: ends the consumer; its media section stays in the connection, idle until reused. */
import { ConclaveError } from '@conclave/protocol/errors';
import type { ClientMessageOf, ReplyResults } from '@conclave/protocol/signaling';
import type { SessionContext } from '../context.ts';

export async function unsubscribe(
  ctx: SessionContext,
  msg: ClientMessageOf<'unsubscribe'>,
): Promise<ReplyResults['unsubscribe']> {
  if (!ctx.participant.subscriptions.has(msg.streamId)) throw new ConclaveError('stream_not_found');
  ctx.room.unsubscribe(ctx.participant, msg.streamId);
  return {};
}
