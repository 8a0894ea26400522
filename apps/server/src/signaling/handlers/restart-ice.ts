/**
 * restartIce: a media connection's network path died (the browser changed networks). The SFU
 * cannot restart ICE in place (libdatachannel has no ICE restart), so the connection is rebuilt
 * under the same stream or subscriptions: other participants see no change at all.
 */
import { ConclaveError } from '@conclave/protocol/errors';
import type { ClientMessageOf } from '@conclave/protocol/signaling';
import { REPLIED, type SessionContext } from '../context.ts';
import { asSdpError, requireRouted, requireSdp, stillPresent } from './guards.ts';
import { rebuildSubscriberConnection } from './subscribe.ts';

export async function restartIce(
  ctx: SessionContext,
  msg: ClientMessageOf<'restartIce'>,
): Promise<typeof REPLIED> {
  requireRouted(ctx.room);
  if (msg.target === 'subscriber') {
    ctx.connection.reply<'restartIce'>(msg.id, {});
    await rebuildSubscriberConnection(ctx.room, ctx.participant);
    return REPLIED;
  }
  ctx.connection.reply<'restartIce'>(msg.id, { sdp: await restartPublisher(ctx, msg.target, msg.sdp) });
  return REPLIED;
}

/** Answers the offer of the stream's new publisher connection and moves its subscribers to it. */
async function restartPublisher(
  ctx: SessionContext,
  streamId: string,
  offerSdp: string | undefined,
): Promise<string> {
  const { room, participant } = ctx;
  if (offerSdp === undefined)
    throw new ConclaveError('invalid_request', 'A publisher restart needs an offer');
  requireSdp(offerSdp, 1);
  const stream = room.streams.get(streamId);
  if (!stream || stream.owner !== participant) throw new ConclaveError('stream_not_found');
  const router = await room.routerFor();
  const { transport, answerSdp } = await router
    .createPublisherTransport({
      participantId: participant.connectionId,
      source: stream.info.source,
      kind: stream.info.kind,
      offerSdp,
    })
    .catch((err: unknown) => {
      throw asSdpError(err);
    });
  if (!stillPresent(room, participant) || room.streams.get(streamId) !== stream) {
    transport.close();
    throw new ConclaveError('stream_not_found');
  }
  void room.replaceTransport(stream, transport);
  return answerSdp;
}
