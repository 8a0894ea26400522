/**
 * One connection per participant for everything it receives. The worker offers; each consumer
 * gets a sendonly media section ("slot") with its own SSRC. A slot freed by closeConsumer is
 * reused by the next consume of the same codec without renegotiation; only new slots need a new
 * offer.
 */

import { randomInt } from 'node:crypto';
import { ConclaveError } from '@conclave/protocol/errors';
import nodeDataChannel, { type PeerConnection } from 'node-datachannel';
import type { IceCandidateInit, TransportStats } from '../api.ts';
import { forEachKeyFrameRequest } from '../rtp/rtcp.ts';
import { checkAnswer, midsOf } from '../sdp.ts';
import { ConsumerSlot } from './consumer.ts';
import {
  applyRemoteDescription,
  completeLocalDescription,
  createPeerConnection,
  type WorkerContext,
  watchGathering,
} from './context.ts';
import { guard } from './guard.ts';
import type { WorkerProducer } from './producer.ts';
import { addCandidate, baseStats, type CloseReason } from './transport-common.ts';

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
  }

  consume(consumerId: string, producer: WorkerProducer): { mid: string; negotiationNeeded: boolean } {
    if (this.slots.some((s) => s.consumerId === consumerId)) throw new ConclaveError('conflict');
    const idle = this.slots.find((s) => s.idle && s.codec === producer.codec);
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
    if (media instanceof nodeDataChannel.Video) media.addVP8Codec(codec.subscriberPayloadType);
    else media.addOpusCodec(codec.subscriberPayloadType);
    // One msid per slot: the browser keeps one MediaStreamTrack per slot across reuses.
    media.addSSRC(ssrc, `conclave-${this.id.slice(0, 8)}`, `slot-${mid}`, `slot-${mid}-${codec.kind}`);
    const track = this.#pc.addTrack(media);
    const slot = new ConsumerSlot({ mid, kind: codec.kind, codec, ssrc, track });
    track.onOpen(guard('subscriber track open', () => slot.onTrackOpen()));
    track.onClosed(guard('subscriber track closed', () => slot.onTrackClosed()));
    track.onMessage(this.#onRtcp);
    this.slots.push(slot);
    this.#slotBySsrc.set(ssrc, slot);
    return slot;
  }

  #freshSsrc(): number {
    for (;;) {
      const ssrc = randomInt(2, 0xffffffff);
      if (!this.#slotBySsrc.has(ssrc)) return ssrc;
    }
  }

  /** PLI/FIR from the browser for one of our SSRCs goes to that slot's current producer. */
  #handleRtcp(message: Buffer): void {
    forEachKeyFrameRequest(message, (mediaSsrc) =>
      this.#slotBySsrc.get(mediaSsrc)?.producer?.requestKeyFrame(),
    );
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
    this.slots.find((s) => s.consumerId === consumerId)?.producer?.requestKeyFrame();
  }

  async createOffer(): Promise<string> {
    if (this.slots.length === 0)
      throw new ConclaveError('invalid_request', 'Nothing to offer: consume first');
    this.#pc.setLocalDescription('offer');
    const sdp = await completeLocalDescription(this.#ctx, this.#pc, this.#gathering.done);
    this.#offeredMids = midsOf(sdp);
    return sdp;
  }

  setAnswer(answerSdp: string): void {
    if (this.#pc.signalingState() !== 'have-local-offer') {
      throw new ConclaveError('invalid_request', 'No offer is waiting for an answer');
    }
    applyRemoteDescription(this.#pc, checkAnswer(answerSdp, this.#offeredMids), 'answer');
  }

  addRemoteCandidate(candidate: IceCandidateInit): void {
    addCandidate(this.#pc, candidate);
  }

  #onState(state: string): void {
    if (this.closed) return;
    if (state === 'connected' && this.#srtpProfile === null) this.#srtpProfile = this.#ctx.claimSrtpProfile();
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
    for (const slot of this.slots) slot.release();
    try {
      this.#pc.close();
    } catch {
      // already closed by libdatachannel
    }
    this.#onClose(reason);
  }
}
