/**
 * publish: one publisher connection per track, the client offering exactly one sendonly media
 * section; the reply carries the router's answer, then everyone gets `streamCreated`.
 */
import { ConclaveError } from '@conclave/protocol/errors';
import type { ClientMessageOf } from '@conclave/protocol/signaling';
import { REPLIED, type SessionContext } from '../context.ts';
import { newStreamId } from '../ids.ts';
import { asSdpError, requireGrant, requireRouted, requireSdp, stillPresent } from './guards.ts';

export async function publish(ctx: SessionContext, msg: ClientMessageOf<'publish'>): Promise<typeof REPLIED> {
  const { room, participant } = ctx;
  requireGrant(participant, 'publish');
  requireRouted(room);
  requireSdp(msg.sdp, 1);
  const router = await room.routerFor();
  const { transport, answerSdp } = await router
    .createPublisherTransport({
      participantId: participant.connectionId,
      source: msg.source,
      kind: msg.kind,
      offerSdp: msg.sdp,
    })
    .catch((err: unknown) => {
      throw asSdpError(err);
    });
  if (!stillPresent(room, participant)) {
    transport.close();
    throw new ConclaveError('invalid_request', 'The participant left');
  }
  const streamId = newStreamId();
  ctx.connection.reply<'publish'>(msg.id, { streamId, sdp: answerSdp });
  room.addStream({
    info: {
      streamId,
      connectionId: participant.connectionId,
      kind: msg.kind,
      source: msg.source,
      name: msg.name ?? '',
      subscriberCount: 0,
    },
    producerId: transport.producer.id,
    transport,
    owner: participant,
    subscribers: new Set(),
  });
  return REPLIED;
}
