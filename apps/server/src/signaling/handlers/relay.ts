/** relay: relayed sessions only; an offer, answer or candidate passed to the other participant as is. */
import { ConclaveError } from '@conclave/protocol/errors';
import type { ClientMessageOf } from '@conclave/protocol/signaling';
import { NO_REPLY, type SessionContext } from '../context.ts';

export async function relay(ctx: SessionContext, msg: ClientMessageOf<'relay'>): Promise<typeof NO_REPLY> {
  const { room, participant } = ctx;
  if (!room.relayed) throw new ConclaveError('invalid_request', 'relay is only for relayed sessions');
  if (!msg.sdp && !msg.candidate) throw new ConclaveError('message_invalid', 'relay needs sdp or candidate');
  const peer = room.participants.get(msg.to);
  if (!peer || peer === participant) throw new ConclaveError('relayed_peer_missing');
  peer.send({
    type: 'relay',
    from: participant.connectionId,
    ...(msg.sdp ? { sdp: msg.sdp } : {}),
    ...(msg.candidate ? { candidate: msg.candidate } : {}),
  });
  return NO_REPLY;
}
