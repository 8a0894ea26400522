/**
 * One connection per published source, with exactly one media section: libdatachannel then hands
 * every packet of every simulcast layer and RTX to that one track without a=ssrc lines. The
 * browser offers, the worker answers (as DTLS server when preferAes256Gcm, see sdp.ts).
 */
import type { PeerConnection, Track } from 'node-datachannel';
import type { IceCandidateInit, MediaKind, MediaSource, TransportStats } from '../api.ts';
import { isRtcp } from '../rtp/packet.ts';
import { CONNECTION_SCOPED_EXTENSIONS, flipSimulcastDirection, preparePublishOffer } from '../sdp.ts';
import {
  applyRemoteDescription,
  completeLocalDescription,
  createPeerConnection,
  type WorkerContext,
  watchGathering,
} from './context.ts';
import { guard } from './guard.ts';
import { WorkerProducer } from './producer.ts';
import { addCandidate, baseStats, type CloseReason } from './transport-common.ts';

export interface PublisherParams {
  transportId: string;
  producerId: string;
  participantId: string;
  source: MediaSource;
  kind: MediaKind;
}

export class PublisherTransport {
  readonly id: string;
  readonly participantId: string;
  readonly producer: WorkerProducer;
  closed = false;
  #srtpProfile: string | null = null;
  readonly #ctx: WorkerContext;
  readonly #pc: PeerConnection;
  readonly #gathering: { done: Promise<void> };
  #track: Track | null = null;
  readonly #onClose: (transport: PublisherTransport, reason: CloseReason) => void;

  private constructor(
    ctx: WorkerContext,
    params: PublisherParams,
    producer: WorkerProducer,
    onClose: (transport: PublisherTransport, reason: CloseReason) => void,
  ) {
    this.#ctx = ctx;
    this.id = params.transportId;
    this.participantId = params.participantId;
    this.producer = producer;
    this.#onClose = onClose;
    this.#pc = createPeerConnection(ctx, `pub-${params.transportId}`);
    this.#gathering = watchGathering(this.#pc);
    this.#pc.onTrack(guard('publisher track', (track: Track) => this.#attach(track)));
    this.#pc.onStateChange(guard('publisher state', (state: string) => this.#onState(state)));
  }

  /** Validates and rewrites the offer, answers it; throws sdp_invalid before creating anything. */
  static async create(
    ctx: WorkerContext,
    params: PublisherParams,
    offerSdp: string,
    onClose: (transport: PublisherTransport, reason: CloseReason) => void,
  ): Promise<{ transport: PublisherTransport; answerSdp: string }> {
    const offer = preparePublishOffer(offerSdp, params.kind, ctx.preferAes256Gcm);
    const connectionScopedExtensionIds = [...offer.extensions]
      .filter(([, uri]) => CONNECTION_SCOPED_EXTENSIONS.has(uri))
      .map(([id]) => id);
    const producer = new WorkerProducer({
      id: params.producerId,
      participantId: params.participantId,
      kind: params.kind,
      source: params.source,
      codec: offer.codec,
      payloadType: offer.payloadType,
      connectionScopedExtensionIds,
      pliThrottleMs: ctx.pliThrottleMs,
    });
    const transport = new PublisherTransport(ctx, params, producer, onClose);
    try {
      applyRemoteDescription(transport.#pc, offer.sdp, 'offer');
      transport.#pc.setLocalDescription('answer');
      const answer = await completeLocalDescription(ctx, transport.#pc, transport.#gathering.done);
      return { transport, answerSdp: flipSimulcastDirection(answer) };
    } catch (error) {
      // Never announced to anyone: close without events.
      transport.close('caller');
      throw error;
    }
  }

  #attach(track: Track): void {
    if (this.#track || this.closed) return;
    this.#track = track;
    this.producer.attachTrack(track);
    const producer = this.producer;
    track.onMessage(
      guard('publisher media', (message: Buffer) => {
        if (isRtcp(message)) producer.onRtcp(message);
        else producer.onRtp(message);
      }),
    );
  }

  #onState(state: string): void {
    if (this.closed) return;
    if (state === 'connected' && this.#srtpProfile === null) this.#srtpProfile = this.#ctx.claimSrtpProfile();
    this.#ctx.emit({ type: 'event', name: 'connectionstatechange', transportId: this.id, state });
    if (state === 'failed' || state === 'closed') this.close('failed');
  }

  addRemoteCandidate(candidate: IceCandidateInit): void {
    addCandidate(this.#pc, candidate);
  }

  getStats(): TransportStats {
    return baseStats(this.id, this.#pc, this.#srtpProfile, {
      packetsReceived: this.producer.packetsReceived,
      bytesReceived: this.producer.bytesReceived,
      packetsSent: 0,
      bytesSent: 0,
    });
  }

  /** Closes the connection and the producer; consumers of the producer are released by the router. */
  close(reason: CloseReason): void {
    if (this.closed) return;
    this.closed = true;
    this.producer.close();
    try {
      this.#pc.close();
    } catch {
      // already closed by libdatachannel
    }
    this.#onClose(this, reason);
  }
}
