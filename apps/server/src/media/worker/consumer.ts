/**
 * A media section of a subscriber connection and the consumer it currently carries.
 *
 * The slot owns the SSRC, payload type and sequence/timestamp space the browser sees; producers
 * come and go behind it. On every source change the offsets are recomputed so the browser sees
 * one continuous stream: sequence numbers continue with +1, timestamps advance by the wall-clock
 * time since the last forwarded packet. That is what lets a slot be reused without renegotiation.
 *
 * Simulcast: the slot forwards one layer of its producer. It switches to another layer (a new
 * preference, or the current layer paused) only on a keyframe of that layer, keeps forwarding the
 * old layer until then, and rewrites VP8 PictureID and TL0PICIDX so they continue across the
 * switch like sequence numbers do.
 */
import type { Track } from 'node-datachannel';
import type { MediaKind } from '../api.ts';
import type { CodecInfo } from '../rtp/codecs.ts';
import { writeVp8PictureId } from '../rtp/codecs.ts';
import { setPayloadType, setSequence, setSsrc, setTimestamp } from '../rtp/packet.ts';
import { buildSenderReport } from '../rtp/rtcp.ts';
import { NackResponder } from './nack-responder.ts';
import type { PacketInfo, WorkerProducer } from './producer.ts';
import type { RetransmissionBudget } from './retransmission-budget.ts';
import type { TwccSlot, TwccStamper } from './twcc-stamper.ts';

/** How often a slot waiting for another layer re-checks which layers the publisher sends. */
const LAYER_CHECK_MS = 500;
/** A retransmission carries no transport-cc element of its own (the cached one is padded out). */
const NO_TWCC_ELEMENT: TwccSlot = { twccAt: -1, twccHeaderBytes: 1 };

export class ConsumerSlot {
  readonly mid: string;
  readonly kind: MediaKind;
  readonly codec: CodecInfo;
  /** fmtp parameters offered for the codec (an H.264 profile): a slot is reused only for the same. */
  readonly formatParameters: string;
  readonly ssrc: number;
  /** SSRC of this slot's retransmissions when the subscriber negotiates RTX; 0: no RTX offered. */
  readonly rtxSsrc: number;
  readonly payloadType: number;
  readonly track: Track;
  consumerId: string | null = null;
  producer: WorkerProducer | null = null;
  packetsSent = 0;
  bytesSent = 0;
  /** Answers the subscriber's NACKs for this slot (worker/nack-responder.ts). */
  readonly nack = new NackResponder();
  #open = false;
  /** Layer forwarded now; -1 until a keyframe starts the stream (video), so the browser can decode. */
  #currentLayer = -1;
  /** Layer wanted by the subscriber (capped to what the producer has). */
  #preferredLayer = Number.MAX_SAFE_INTEGER;
  /** Layer the connection's bandwidth allows (layer-allocator.ts); -1: video paused. */
  #bandwidthLayer = Number.MAX_SAFE_INTEGER;
  readonly #stamper: TwccStamper;
  readonly #retransmissionBudget: RetransmissionBudget;
  /** Layer to switch to on its next keyframe: the preferred one, or the best one being sent. */
  #targetLayer = 0;
  #nextLayerCheck = 0;
  /** Source SSRC the offsets were computed for; -1 forces recomputation on the next packet. */
  #sourceSsrc = -1;
  #sequenceOffset = 0;
  #timestampOffset = 0;
  #pictureIdOffset = 0;
  #tl0PicIdxOffset = 0;
  #lastSequenceOut: number;
  #lastTimestampOut: number;
  #lastPictureIdOut = 0;
  #lastTl0PicIdxOut = 0;
  #lastSentAt = 0;
  #started = false;

  constructor(params: {
    mid: string;
    kind: MediaKind;
    codec: CodecInfo;
    formatParameters?: string;
    ssrc: number;
    rtxSsrc?: number;
    track: Track;
    stamper: TwccStamper;
    retransmissionBudget: RetransmissionBudget;
  }) {
    this.mid = params.mid;
    this.#stamper = params.stamper;
    this.#retransmissionBudget = params.retransmissionBudget;
    this.kind = params.kind;
    this.codec = params.codec;
    this.formatParameters = params.formatParameters ?? '';
    this.ssrc = params.ssrc;
    this.rtxSsrc = params.rtxSsrc ?? 0;
    this.payloadType = params.codec.subscriberPayloadType;
    this.track = params.track;
    // Random starting points (RFC 3550 5.1) make known-plaintext attacks on SRTP harder.
    this.#lastSequenceOut = (Math.random() * 0x10000) | 0;
    this.#lastTimestampOut = (Math.random() * 0x100000000) >>> 0;
  }

  get idle(): boolean {
    return this.consumerId === null;
  }

  /** Starts carrying `producer`; the next packet of it recomputes the offsets. */
  assign(consumerId: string, producer: WorkerProducer): void {
    this.consumerId = consumerId;
    this.producer = producer;
    this.#sourceSsrc = -1;
    this.#currentLayer = this.kind === 'video' ? -1 : 0;
    this.#nextLayerCheck = 0;
    this.#targetLayer = producer.bestLayer(this.#cap, performance.now());
    this.nack.reset();
    producer.consumers.push(this);
    if (this.#open) producer.requestStartingKeyFrame(this.#targetLayer);
  }

  /** Stops carrying the current producer; the slot stays in the SDP, ready for reuse. */
  release(): void {
    const producer = this.producer;
    if (producer) producer.consumers = producer.consumers.filter((c) => c !== this);
    this.consumerId = null;
    this.producer = null;
    this.#sourceSsrc = -1;
    this.#preferredLayer = Number.MAX_SAFE_INTEGER;
    this.#bandwidthLayer = Number.MAX_SAFE_INTEGER;
  }

  /** The layer being forwarded (-1 before the first keyframe). */
  get currentLayer(): number {
    return this.#currentLayer;
  }

  /**
   * Caps the layer this slot receives (0 = lowest). The switch happens on the next keyframe of
   * the new layer, which is requested at once.
   */
  setPreferredLayer(layer: number): void {
    this.#preferredLayer = layer;
    this.#retarget();
  }

  get preferredLayer(): number {
    return this.#preferredLayer;
  }

  get bandwidthLayer(): number {
    return this.#bandwidthLayer;
  }

  /**
   * The allocator's cap (layer-allocator.ts); -1 pauses video until a later call resumes it, on
   * a keyframe like a new subscription.
   */
  setBandwidthLayer(layer: number): void {
    if (this.kind !== 'video' || layer === this.#bandwidthLayer) return;
    this.#bandwidthLayer = layer;
    // Paused: the next packet after resuming has to be a keyframe, as for a new subscription, and
    // the sequence numbers continue from the last one sent (no gap the browser would NACK).
    if (layer < 0) {
      this.#currentLayer = -1;
      this.#sourceSsrc = -1;
    } else this.#retarget();
  }

  /**
   * The layer this slot wants the publisher to send (dynacast), -1 for none: capped by the
   * subscriber's preference and the bandwidth, not by what is being sent now.
   */
  get wantedLayer(): number {
    const producer = this.producer;
    if (!producer || this.#bandwidthLayer < 0) return -1;
    return Math.min(this.#cap, producer.layerCount - 1);
  }

  get #cap(): number {
    return Math.min(this.#preferredLayer, this.#bandwidthLayer);
  }

  #retarget(): void {
    this.#nextLayerCheck = 0;
    const producer = this.producer;
    if (!producer) return;
    this.#targetLayer = producer.bestLayer(this.#cap, performance.now());
    if (this.#targetLayer !== this.#currentLayer) producer.requestKeyFrame(this.#targetLayer);
  }

  /** A NACK from the subscriber for one sequence number this slot sent: resent from the producer's cache. */
  onNack(sequence: number): void {
    const cache = this.producer?.cache;
    if (!this.#open || !cache) return;
    const now = performance.now();
    const packet = this.nack.retransmission(sequence, cache, this, this.#retransmissionBudget, now);
    if (!packet) return;
    // Numbered like every other packet on the connection: the browser's feedback then reports
    // it, and the downlink estimate counts the bytes retransmissions take.
    const out = this.#stamper.stamp(packet, NO_TWCC_ELEMENT);
    if (this.#send(out)) this.#stamper.sent(out.length, now);
  }

  /** True when VP8 picture ids are rewritten (read by the NACK responder). */
  get vp8(): boolean {
    return this.codec.name === 'VP8';
  }

  /** A keyframe request from the browser: for the layer it receives (or is about to). */
  requestKeyFrame(): void {
    this.producer?.requestKeyFrame(this.#currentLayer >= 0 ? this.#currentLayer : this.#targetLayer);
  }

  onTrackOpen(): void {
    this.#open = true;
    if (this.producer && this.#currentLayer < 0) this.producer.requestStartingKeyFrame(this.#targetLayer);
  }

  onTrackClosed(): void {
    this.#open = false;
  }

  /**
   * Hot path: called once per packet per consumer with the header fields the producer read
   * before any consumer rewrote the shared buffer. Rewrites in place and sends; the native send
   * copies the bytes synchronously, so the next consumer may rewrite the same buffer.
   */
  forward(packet: Buffer, info: PacketInfo, now: number): void {
    if (!this.#open || this.#bandwidthLayer < 0) return;
    if (info.layer !== this.#currentLayer && !this.#acceptLayer(info, now)) return;
    if (info.ssrc !== this.#sourceSsrc) this.#switchSource(info, now);
    const sequenceOut = (info.sequence + this.#sequenceOffset) & 0xffff;
    const timestampOut = (info.timestamp + this.#timestampOffset) >>> 0;
    // Only newer packets move the reference point; a reordered older one keeps its own place.
    if (((sequenceOut - this.#lastSequenceOut) & 0xffff) < 0x8000) {
      this.#lastSequenceOut = sequenceOut;
      this.#lastTimestampOut = timestampOut;
      this.#lastSentAt = now;
    }
    setSequence(packet, sequenceOut);
    setTimestamp(packet, timestampOut);
    setSsrc(packet, this.ssrc);
    setPayloadType(packet, this.payloadType);
    if (info.vp8.pictureId >= 0) this.#rewriteVp8(packet, info);
    this.nack.recordSent(
      sequenceOut,
      info.layer,
      info.sequence,
      this.#timestampOffset,
      this.#pictureIdOffset,
      this.#tl0PicIdxOffset,
    );
    const out = this.#stamper.stamp(packet, info);
    if (this.#send(out)) {
      this.#stamper.sent(out.length, now);
      this.packetsSent++;
      this.bytesSent += packet.length;
    }
  }

  /**
   * A packet of another layer than the one forwarded: switch to it if it is the target layer and
   * starts a keyframe; otherwise drop it (and ask for the keyframe the switch waits for).
   */
  #acceptLayer(info: PacketInfo, now: number): boolean {
    const producer = this.producer;
    if (!producer) return false;
    if (now >= this.#nextLayerCheck) {
      this.#nextLayerCheck = now + LAYER_CHECK_MS;
      const target = producer.bestLayer(this.#cap, now);
      if (target !== this.#targetLayer && target !== this.#currentLayer) producer.requestKeyFrame(target);
      this.#targetLayer = target;
    }
    if (info.layer !== this.#targetLayer) return false;
    if (!info.vp8.keyFrameStart) {
      producer.requestKeyFrame(info.layer);
      return false;
    }
    this.#currentLayer = info.layer;
    return true;
  }

  /** PictureID and TL0PICIDX continue across layer switches (each layer counts on its own). */
  #rewriteVp8(packet: Buffer, info: PacketInfo): void {
    const vp8 = info.vp8;
    const mask = vp8.pictureIdLong ? 0x7fff : 0x7f;
    const pictureId = (vp8.pictureId + this.#pictureIdOffset) & mask;
    if (((pictureId - this.#lastPictureIdOut) & mask) <= mask >> 1) this.#lastPictureIdOut = pictureId;
    writeVp8PictureId(packet, vp8, pictureId);
    if (vp8.tl0PicIdxAt >= 0) {
      const tl0 = (vp8.tl0PicIdx + this.#tl0PicIdxOffset) & 0xff;
      if (((tl0 - this.#lastTl0PicIdxOut) & 0xff) < 0x80) this.#lastTl0PicIdxOut = tl0;
      packet[vp8.tl0PicIdxAt] = tl0;
    }
  }

  /**
   * Continue the outgoing stream where it stopped: next sequence number, next picture, and a
   * timestamp advanced by the real time elapsed (at least one tick) so jitter buffers see a
   * plausible gap.
   */
  #switchSource(info: PacketInfo, now: number): void {
    const ticks = this.#started
      ? Math.max(1, Math.round(((now - this.#lastSentAt) * this.codec.clockRate) / 1000))
      : 0;
    this.#sequenceOffset = (this.#lastSequenceOut + 1 - info.sequence) & 0xffff;
    this.#timestampOffset = (this.#lastTimestampOut + ticks - info.timestamp) >>> 0;
    const vp8 = info.vp8;
    if (vp8.pictureId >= 0) {
      const mask = vp8.pictureIdLong ? 0x7fff : 0x7f;
      this.#pictureIdOffset = this.#started ? (this.#lastPictureIdOut + 1 - vp8.pictureId) & mask : 0;
    }
    if (vp8.tl0PicIdx >= 0) {
      this.#tl0PicIdxOffset = this.#started ? (this.#lastTl0PicIdxOut + 1 - vp8.tl0PicIdx) & 0xff : 0;
    }
    this.#sourceSsrc = info.ssrc;
    this.#started = true;
  }

  forwardSenderReport(sourceSsrc: number, ntpHigh: number, ntpLow: number, rtpTimestamp: number): void {
    if (!this.#open || sourceSsrc !== this.#sourceSsrc) return;
    const report = buildSenderReport({
      ssrc: this.ssrc,
      ntpHigh,
      ntpLow,
      rtpTimestamp: (rtpTimestamp + this.#timestampOffset) >>> 0,
      packetCount: this.packetsSent,
      octetCount: this.bytesSent,
    });
    this.#send(report);
  }

  /**
   * Sends on the subscriber's track. A track that closes under us throws before its close event
   * arrives: this consumer stops sending from then on, and the producer's loop goes on to the
   * next consumer instead of losing the packet for all of them.
   */
  #send(bytes: Buffer): boolean {
    try {
      return this.track.sendMessageBinary(bytes);
    } catch {
      this.#open = false;
      return false;
    }
  }
}
