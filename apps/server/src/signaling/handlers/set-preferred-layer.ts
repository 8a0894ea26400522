/** setPreferredLayer: caps the simulcast layer the SFU forwards for one subscription. */
import { ConclaveError } from '@conclave/protocol/errors';
import type { ClientMessageOf, ReplyResults } from '@conclave/protocol/signaling';
import type { SessionContext } from '../context.ts';

export async function setPreferredLayer(
  ctx: SessionContext,
  msg: ClientMessageOf<'setPreferredLayer'>,
): Promise<ReplyResults['setPreferredLayer']> {
  const { participant } = ctx;
  const subscription = participant.subscriptions.get(msg.streamId);
  if (!subscription || !participant.subscriber) throw new ConclaveError('stream_not_found');
  const transport = await participant.subscriber;
  await transport.setPreferredLayer(subscription.consumerId, msg.layer);
  return {};
}
