/** Helpers shared by the media tests: a plane on loopback, and a publisher/subscriber wired to it. */

import type { Emitter, Router, SubscriberTransport } from '@conclave/server/media/api';
import { createMediaPlane, type LocalMediaPlane, type MediaPlaneOptions } from '@conclave/server/media/index';
import {
  createPublisherPeer,
  createSubscriberPeer,
  type PeerKind,
  type PublisherPeer,
  releaseNodeDataChannel,
  type SubscriberPeer,
} from '@conclave/server/media/testing/rtp-peer';

export { releaseNodeDataChannel };

export function startPlane(options: Partial<MediaPlaneOptions> = {}): Promise<LocalMediaPlane> {
  return createMediaPlane({
    workers: 1,
    bindAddress: '127.0.0.1',
    rtcPort: 0,
    preferAes256Gcm: true,
    pliThrottleMs: 300,
    ...options,
  });
}

export async function publish(
  router: Router,
  kind: PeerKind,
  participantId = 'alice',
  extra: { midExtension?: boolean; payloadType?: number } = {},
) {
  const peer = await createPublisherPeer({ kind, ...extra });
  const { transport, answerSdp } = await router.createPublisherTransport({
    participantId,
    source: kind === 'video' ? 'camera' : 'microphone',
    kind,
    offerSdp: peer.offer,
  });
  await peer.setAnswer(answerSdp);
  return { peer, transport, producer: transport.producer };
}

/** A subscriber connection with one consumer per producer id, negotiated and connected. */
export async function subscribe(router: Router, producerIds: string[], participantId = 'bob') {
  const peer = await createSubscriberPeer();
  const transport = await router.createSubscriberTransport({ participantId });
  const consumers = [];
  for (const producerId of producerIds) consumers.push(await transport.consume(producerId));
  await negotiate(transport, peer);
  await peer.connected();
  return { peer, transport, consumers };
}

export async function negotiate(transport: SubscriberTransport, peer: SubscriberPeer): Promise<void> {
  const offer = await transport.createOffer();
  await transport.setAnswer(await peer.answer(offer));
}

export type { PublisherPeer, SubscriberPeer };

/** Resolves with the arguments of the next `event` of a media emitter. */
export function nextEvent<E extends Record<string, unknown[]>, K extends keyof E & string>(
  emitter: Emitter<E>,
  event: K,
  timeoutMs = 10_000,
): Promise<E[K]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no '${event}' event`)), timeoutMs);
    const listener = (...args: E[K]) => {
      clearTimeout(timer);
      emitter.off(event, listener);
      resolve(args);
    };
    emitter.on(event, listener);
  });
}
