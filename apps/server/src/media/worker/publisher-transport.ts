/**
 * One connection per published source, with exactly one media section: libdatachannel then hands
 * every packet of every simulcast layer and RTX to that one track without a=ssrc lines. The
 * browser offers, the worker answers (as DTLS server when preferAes256Gcm, see sdp.ts).
 */
import type { PeerConnection, Track } from 'node-datachannel';
import type { IceCandidateInit, MediaKind, MediaSource, TransportStats } from '../api.ts';
import { AUDIO_LEVEL_URI } from '../rtp/audio-level.ts';
import { isRtcp } from '../rtp/packet.ts';
import { TRANSPORT_CC_URI } from '../rtp/twcc.ts';
import {
  CONNECTION_SCOPED_EXTENSIONS,
  flipSimulcastDirection,
  preparePublishOffer,
  REPAIRED_RTP_STREAM_ID_URI,
  RTP_STREAM_ID_URI,
  withOpusOptions,
} from '../sdp.ts';
import {
  applyRemoteDescription,
  completeLocalDescription,
  createPeerConnection,
  type WorkerContext,
  watchGathering,
} from './context.ts';
import { guard } from './guard.ts';
import { IngressLimit } from './ingress-limit.ts';
import { WorkerProducer } from './producer.ts';
import { addCandidate, baseStats, type CloseReason } from './transport-common.ts';
import { TwccFeedback } from './twcc-feedback.ts';

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
  /** Header extension id of transport-wide sequence numbers; 0 when not negotiated. */
  #transportCcId = 0;
  #feedback: TwccFeedback | null = null;
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
    const extensionId = (uri: string) => [...offer.extensions].find(([, u]) => u === uri)?.[0] ?? 0;
    const transportCcId = extensionId(TRANSPORT_CC_URI);
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
      formatParameters: offer.formatParameters,
      connectionScopedExtensionIds,
      pliThrottleMs: ctx.pliThrottleMs,
      rids: offer.rids,
      ridExtensionId: extensionId(RTP_STREAM_ID_URI),
      rtxPayloadType: offer.rtxPayloadType ?? 0,
      repairedRidExtensionId: extensionId(REPAIRED_RTP_STREAM_ID_URI),
      nackGatedByFeedback: transportCcId > 0,
      transportCcExtensionId: transportCcId,
      audioLevelExtensionId: extensionId(AUDIO_LEVEL_URI),
    });
    const transport = new PublisherTransport(ctx, params, producer, onClose);
    transport.#transportCcId = transportCcId;
    try {
      applyRemoteDescription(transport.#pc, offer.sdp, 'offer');
      transport.#pc.setLocalDescription('answer');
      const answer = await completeLocalDescription(ctx, transport.#pc, transport.#gathering.done);
      return { transport, answerSdp: withOpusOptions(flipSimulcastDirection(answer)) };
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
    const ingress = new IngressLimit(this.#ctx.maxPublishBitrate);
    const feedback = this.#transportCcId
      ? new TwccFeedback(
          track,
          this.#transportCcId,
          () => producer.mediaSsrc,
          () => producer.losses?.onFeedbackSent(),
        )
      : null;
    this.#feedback = feedback;
    track.onMessage(
      guard('publisher media', (message: Buffer) => {
        if (isRtcp(message)) producer.onRtcp(message);
        else {
          // Every packet that arrived counts for congestion control (RTX and padding probes
          // included), even one the ingress cap then drops: the feedback reports the link.
          feedback?.onRtp(message, performance.now());
          if (ingress.admit(message.length)) producer.onRtp(message);
        }
      }),
    );
  }

  #onState(state: string): void {
    if (this.closed) return;
    if (state === 'connected' && this.#srtpProfile === null) {
      this.#ctx.claimSrtpProfile((profile) => {
        this.#srtpProfile = profile;
      });
    }
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
    this.#feedback?.close();
    this.producer.close();
    try {
      this.#pc.close();
    } catch {
      // already closed by libdatachannel
    }
    this.#onClose(this, reason);
  }
}
