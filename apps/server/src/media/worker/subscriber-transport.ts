/**
 * One connection per participant for everything it receives. The worker offers; each consumer
 * gets a sendonly media section ("slot") with its own SSRC. A slot freed by closeConsumer is
 * reused by the next consume of the same codec without renegotiation; only new slots need a new
 * offer.
 */

import { randomInt } from 'node:crypto';
import { ConclaveError } from '@conclave/protocol/errors';
import nodeDataChannel, { type PeerConnection } from 'node-datachannel';
import {
  type DownlinkStats,
  type IceCandidateInit,
  SIMULCAST_LAYER_INDEX,
  type SimulcastLayer,
  type TransportStats,
} from '../api.ts';
import { forEachNackedSequence } from '../rtp/nack.ts';
import { forEachKeyFrameRequest } from '../rtp/rtcp.ts';
import {
  addRtxSsrcGroups,
  answerAcceptsTransportCc,
  answeredRtxPayloadType,
  checkAnswer,
  midsOf,
  offerTransportCc,
  withOpusOptions,
} from '../sdp.ts';
import { ConsumerSlot } from './consumer.ts';
import {
  applyRemoteDescription,
  completeLocalDescription,
  createPeerConnection,
  type WorkerContext,
  watchGathering,
} from './context.ts';
import { DownlinkEstimator, forEachTransportFeedback } from './downlink-estimator.ts';
import { guard } from './guard.ts';
import { ALLOCATION, type AllocationChanges, LayerAllocator } from './layer-allocator.ts';
import type { WorkerProducer } from './producer.ts';
import { RetransmissionBudget } from './retransmission-budget.ts';
import { addCandidate, baseStats, type CloseReason } from './transport-common.ts';
import { SUBSCRIBER_TRANSPORT_CC_ID, TwccStamper } from './twcc-stamper.ts';

export class SubscriberTransport {
  readonly id: string;
  readonly participantId: string;
  closed = false;
  readonly slots: ConsumerSlot[] = [];
  readonly #slotBySsrc = new Map<number, ConsumerSlot>();
  readonly #ctx: WorkerContext;
  readonly #pc: PeerConnection;
  readonly #gathering: { done: Promise<void> };
  readonly #onClose: (reason: CloseReason) => void;
  #offeredMids: string[] = [];
  #srtpProfile: string | null = null;
  readonly #onRtcp = guard('subscriber rtcp', (message: Buffer) => this.#handleRtcp(message));
  /** Congestion control of this connection: numbering, estimate, allocation (see their files). */
  readonly #stamper = new TwccStamper();
  readonly #estimator = new DownlinkEstimator();
  readonly #allocator = new LayerAllocator();
  readonly #retransmissionBudget = new RetransmissionBudget();
  readonly #allocationTimer: NodeJS.Timeout;

  constructor(
    ctx: WorkerContext,
    params: { transportId: string; participantId: string },
    onClose: (reason: CloseReason) => void,
  ) {
    this.#ctx = ctx;
    this.id = params.transportId;
    this.participantId = params.participantId;
    this.#onClose = onClose;
    this.#pc = createPeerConnection(ctx, `sub-${params.transportId}`);
    this.#gathering = watchGathering(this.#pc);
    this.#pc.onStateChange(guard('subscriber state', (state: string) => this.#onState(state)));
    this.#allocationTimer = setInterval(
      guard('subscriber allocation', () => this.#allocate()),
      ALLOCATION.intervalMs,
    );
    this.#allocationTimer.unref();
  }

  consume(consumerId: string, producer: WorkerProducer): { mid: string; negotiationNeeded: boolean } {
    if (this.slots.some((s) => s.consumerId === consumerId)) throw new ConclaveError('conflict');
    const idle = this.slots.find(
      (s) => s.idle && s.codec === producer.codec && s.formatParameters === producer.formatParameters,
    );
    if (idle) {
      idle.assign(consumerId, producer);
      return { mid: idle.mid, negotiationNeeded: false };
    }
    const slot = this.#addSlot(producer);
    slot.assign(consumerId, producer);
    return { mid: slot.mid, negotiationNeeded: true };
  }

  #addSlot(producer: WorkerProducer): ConsumerSlot {
    const mid = String(this.slots.length);
    const ssrc = this.#freshSsrc();
    const codec = producer.codec;
    const media =
      codec.kind === 'video'
        ? new nodeDataChannel.Video(mid, 'SendOnly')
        : new nodeDataChannel.Audio(mid, 'SendOnly');
    if (codec.name === 'H264' && media instanceof nodeDataChannel.Video)
      media.addH264Codec(codec.subscriberPayloadType, producer.formatParameters);
    else if (media instanceof nodeDataChannel.Video) media.addVP8Codec(codec.subscriberPayloadType);
    else media.addOpusCodec(codec.subscriberPayloadType);
    const rtxSsrc = codec.subscriberRtxPayloadType ? this.#freshSsrc() : 0;
    if (rtxSsrc)
      media.addRTXCodec(codec.subscriberRtxPayloadType, codec.subscriberPayloadType, codec.clockRate);
    // One msid per slot: the browser keeps one MediaStreamTrack per slot across reuses.
    media.addSSRC(ssrc, `conclave-${this.id.slice(0, 8)}`, `slot-${mid}`, `slot-${mid}-${codec.kind}`);
    const track = this.#pc.addTrack(media);
    const slot = new ConsumerSlot({
      mid,
      kind: codec.kind,
      codec,
      formatParameters: producer.formatParameters,
      ssrc,
      rtxSsrc,
      track,
      stamper: this.#stamper,
      retransmissionBudget: this.#retransmissionBudget,
    });
    track.onOpen(guard('subscriber track open', () => slot.onTrackOpen()));
    track.onClosed(guard('subscriber track closed', () => slot.onTrackClosed()));
    track.onMessage(this.#onRtcp);
    this.slots.push(slot);
    this.#slotBySsrc.set(ssrc, slot);
    if (rtxSsrc) this.#slotBySsrc.set(rtxSsrc, slot);
    return slot;
  }

  #freshSsrc(): number {
    for (;;) {
      const ssrc = randomInt(2, 0xffffffff);
      if (!this.#slotBySsrc.has(ssrc)) return ssrc;
    }
  }

  /**
   * PLI/FIR from the browser for one of our SSRCs goes to that slot's current producer, NACKs to
   * the slot;
   * transport-cc feedback (whatever SSRC it names) feeds the connection's downlink estimate.
   */
  #handleRtcp(message: Buffer): void {
    forEachKeyFrameRequest(message, (mediaSsrc) => this.#slotBySsrc.get(mediaSsrc)?.requestKeyFrame());
    forEachNackedSequence(message, (mediaSsrc, sequence) =>
      this.#slotBySsrc.get(mediaSsrc)?.onNack(sequence),
    );
    if (this.#stamper.enabled) {
      forEachTransportFeedback(message, (feedback) =>
        this.#estimator.onFeedback(feedback, this.#stamper, performance.now()),
      );
    }
  }

  /** Shares the estimate among the consumers; tells the client which videos paused or resumed. */
  #allocate(): void {
    if (this.closed || !this.#stamper.enabled || this.#stamper.stamped === 0) return;
    this.#estimator.onIdle(this.#stamper, performance.now());
    const estimate = this.#estimator.constrained ? this.#estimator.estimateBps : Number.POSITIVE_INFINITY;
    this.#retransmissionBudget.setEstimate(estimate);
    const changes = this.#allocator.allocate(estimate, this.slots, performance.now());
    this.#reportPauses(changes);
  }

  #reportPauses(changes: AllocationChanges): void {
    for (const [slots, paused] of [
      [changes.paused, true],
      [changes.resumed, false],
    ] as const) {
      for (const slot of slots) {
        const consumerId = (slot as ConsumerSlot).consumerId;
        if (!consumerId) continue;
        this.#ctx.emit({ type: 'event', name: 'consumerpause', transportId: this.id, consumerId, paused });
      }
    }
  }

  downlinkStats(): DownlinkStats {
    return {
      estimateBps: this.#stamper.enabled ? Math.round(this.#estimator.estimateBps) : null,
      ackedBps: Math.round(this.#estimator.ackedBps),
      lossFraction: this.#estimator.lossFraction,
      signal: this.#estimator.signal,
      consumers: this.slots.flatMap((slot) =>
        slot.consumerId
          ? [
              {
                consumerId: slot.consumerId,
                layer: slot.currentLayer,
                wantedLayer: slot.wantedLayer,
                paused: slot.bandwidthLayer < 0,
              },
            ]
          : [],
      ),
    };
  }

  closeConsumer(consumerId: string): boolean {
    const slot = this.slots.find((s) => s.consumerId === consumerId);
    if (!slot) return false;
    slot.release();
    return true;
  }

  /** Slots whose producer is `producer` are released; returns the consumer ids that ended. */
  releaseProducer(producer: WorkerProducer): string[] {
    const ended: string[] = [];
    for (const slot of this.slots) {
      if (slot.producer === producer && slot.consumerId) {
        ended.push(slot.consumerId);
        slot.release();
      }
    }
    return ended;
  }

  requestKeyFrame(consumerId: string): void {
    this.slots.find((s) => s.consumerId === consumerId)?.requestKeyFrame();
  }

  setPreferredLayer(consumerId: string, layer: SimulcastLayer): void {
    const slot = this.slots.find((s) => s.consumerId === consumerId);
    if (!slot) throw new ConclaveError('stream_not_found', 'No such consumer');
    slot.setPreferredLayer(SIMULCAST_LAYER_INDEX[layer]);
  }

  async createOffer(): Promise<string> {
    if (this.slots.length === 0)
      throw new ConclaveError('invalid_request', 'Nothing to offer: consume first');
    this.#pc.setLocalDescription('offer');
    const sdp = await completeLocalDescription(this.#ctx, this.#pc, this.#gathering.done);
    this.#offeredMids = midsOf(sdp);
    const withRtx = addRtxSsrcGroups(
      withOpusOptions(sdp),
      this.slots.filter((s) => s.rtxSsrc).map((s) => ({ mid: s.mid, mediaSsrc: s.ssrc, rtxSsrc: s.rtxSsrc })),
    );
    return offerTransportCc(withRtx, SUBSCRIBER_TRANSPORT_CC_ID);
  }

  setAnswer(answerSdp: string): void {
    if (this.#pc.signalingState() !== 'have-local-offer') {
      throw new ConclaveError('invalid_request', 'No offer is waiting for an answer');
    }
    applyRemoteDescription(this.#pc, checkAnswer(answerSdp, this.#offeredMids), 'answer');
    for (const slot of this.slots) {
      const rtx = slot.rtxSsrc ? answeredRtxPayloadType(answerSdp, slot.mid, slot.payloadType) : null;
      slot.nack.rtx = rtx === null ? null : { payloadType: rtx, ssrc: slot.rtxSsrc };
    }
    this.#stamper.enabled = answerAcceptsTransportCc(answerSdp);
  }

  addRemoteCandidate(candidate: IceCandidateInit): void {
    addCandidate(this.#pc, candidate);
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

  getStats(): TransportStats {
    let packetsSent = 0;
    let bytesSent = 0;
    for (const slot of this.slots) {
      packetsSent += slot.packetsSent;
      bytesSent += slot.bytesSent;
    }
    return baseStats(this.id, this.#pc, this.#srtpProfile, {
      packetsReceived: 0,
      bytesReceived: 0,
      packetsSent,
      bytesSent,
    });
  }

  close(reason: CloseReason): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.#allocationTimer);
    for (const slot of this.slots) slot.release();
    try {
      this.#pc.close();
    } catch {
      // already closed by libdatachannel
    }
    this.#onClose(reason);
  }
}
