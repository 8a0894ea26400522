/**
 * subscribe: adds a consumer of the stream to the participant's subscriber connection (created
 * on first use). When the connection needs a new media section, a `subscriberOffer` follows the
 * reply; offers are serialized per participant (see OfferQueue).
 */
import { ConclaveError } from '@conclave/protocol/errors';
import type { ClientMessageOf } from '@conclave/protocol/signaling';
import type { SubscriberTransport } from '../../media/api.ts';
import { REPLIED, type SessionContext } from '../context.ts';
import type { Participant } from '../participant.ts';
import type { Room } from '../room.ts';
import { requireGrant, requireRouted, stillPresent } from './guards.ts';

export async function subscribe(
  ctx: SessionContext,
  msg: ClientMessageOf<'subscribe'>,
): Promise<typeof REPLIED> {
  const { room, participant } = ctx;
  requireGrant(participant, 'subscribe');
  requireRouted(room);
  const stream = room.streams.get(msg.streamId);
  if (!stream) throw new ConclaveError('stream_not_found');
  const existing = participant.subscriptions.get(msg.streamId);
  if (existing) {
    ctx.connection.reply<'subscribe'>(msg.id, { streamId: msg.streamId, mid: existing.mid });
    return REPLIED;
  }
  const transport = await subscriberTransportOf(room, participant);
  const consumer = await transport.consume(stream.producerId);
  if (!stillPresent(room, participant) || !room.streams.has(msg.streamId)) {
    transport.closeConsumer(consumer.consumerId);
    throw new ConclaveError('stream_not_found');
  }
  room.subscribed(participant, msg.streamId, { consumerId: consumer.consumerId, mid: consumer.mid });
  ctx.connection.reply<'subscribe'>(msg.id, { streamId: msg.streamId, mid: consumer.mid });
  if (consumer.negotiationNeeded) await participant.offers?.request();
  return REPLIED;
}

/** The participant's one subscriber connection, created on its first subscription. */
export function subscriberTransportOf(room: Room, participant: Participant): Promise<SubscriberTransport> {
  if (!participant.subscriber) {
    const created = room
      .routerFor()
      .then((router) => router.createSubscriberTransport({ participantId: participant.connectionId }))
      .then((transport) => {
        transport.on('consumerclose', (consumerId) => {
          // A replaced connection's consumers are not the participant's subscriptions any more.
          if (participant.subscriber === created) room.consumerClosed(participant, consumerId);
        });
        transport.on('consumerpause', (consumerId, paused) => {
          if (participant.subscriber === created) room.consumerPaused(participant, consumerId, paused);
        });
        return transport;
      });
    created.catch(() => {
      if (participant.subscriber === created) participant.subscriber = null;
    });
    participant.subscriber = created;
  }
  return participant.subscriber;
}

/**
 * restartIce for the subscriber connection: a new connection carries every current subscription
 * (the browser starts a new RTCPeerConnection for the offer that follows).
 */
export async function rebuildSubscriberConnection(room: Room, participant: Participant): Promise<void> {
  const old = participant.subscriber;
  participant.subscriber = null;
  void old?.then((transport) => transport.close()).catch(() => {});
  if (participant.subscriptions.size === 0) return;
  const transport = await subscriberTransportOf(room, participant);
  for (const [streamId, subscription] of participant.subscriptions) {
    const stream = room.streams.get(streamId);
    if (!stream) continue;
    const consumer = await transport.consume(stream.producerId);
    subscription.consumerId = consumer.consumerId;
    subscription.mid = consumer.mid;
  }
  if (stillPresent(room, participant)) await participant.offers?.restart();
}

/** Sends the current offer of the subscriber connection with the stream each section carries. */
export async function sendSubscriberOffer(room: Room, participant: Participant): Promise<void> {
  const transport = await subscriberTransportOf(room, participant);
  const sdp = await transport.createOffer();
  const tracks = [...participant.subscriptions].map(([streamId, s]) => ({ mid: s.mid, streamId }));
  participant.send({ type: 'subscriberOffer', sdp, tracks });
}
