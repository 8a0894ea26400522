/** subscriberAnswer: applies the browser's answer; a change queued meanwhile gets the next offer. */
import { ConclaveError } from '@conclave/protocol/errors';
import type { ClientMessageOf } from '@conclave/protocol/signaling';
import { REPLIED, type SessionContext } from '../context.ts';
import { asSdpError, requireSdp } from './guards.ts';

export async function subscriberAnswer(
  ctx: SessionContext,
  msg: ClientMessageOf<'subscriberAnswer'>,
): Promise<typeof REPLIED> {
  const { participant } = ctx;
  if (!participant.subscriber || !participant.offers?.awaitingAnswer) {
    throw new ConclaveError('invalid_request', 'No subscriber offer is waiting for an answer');
  }
  requireSdp(msg.sdp);
  const transport = await participant.subscriber;
  await transport.setAnswer(msg.sdp).catch((err: unknown) => {
    throw asSdpError(err);
  });
  ctx.connection.reply<'subscriberAnswer'>(msg.id, {});
  await participant.offers.answered();
  return REPLIED;
}
