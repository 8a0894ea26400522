/**
 * A media section of a subscriber connection and the consumer it currently carries.
 *
 * The slot owns the SSRC, payload type and sequence/timestamp space the browser sees; producers
 * come and go behind it. On every source change the offsets are recomputed so the browser sees
 * one continuous stream: sequence numbers continue with +1, timestamps advance by the wall-clock
 * time since the last forwarded packet. That is what lets a slot be reused without renegotiation.
 */
import type { Track } from 'node-datachannel';
import type { MediaKind } from '../api.ts';
import type { CodecInfo } from '../rtp/codecs.ts';
import { setPayloadType, setSequence, setSsrc, setTimestamp } from '../rtp/packet.ts';
import { buildSenderReport } from '../rtp/rtcp.ts';
import type { WorkerProducer } from './producer.ts';

export class ConsumerSlot {
  readonly mid: string;
  readonly kind: MediaKind;
  readonly codec: CodecInfo;
  readonly ssrc: number;
  readonly payloadType: number;
  readonly track: Track;
  consumerId: string | null = null;
  producer: WorkerProducer | null = null;
  packetsSent = 0;
  bytesSent = 0;
  #open = false;
  /** A video consumer forwards nothing until a keyframe starts, so the browser can decode. */
  #awaitingKeyFrame = false;
  /** Source SSRC the offsets were computed for; -1 forces recomputation on the next packet. */
  #sourceSsrc = -1;
  #sequenceOffset = 0;
  #timestampOffset = 0;
  #lastSequenceOut: number;
  #lastTimestampOut: number;
  #lastSentAt = 0;
  #started = false;

  constructor(params: { mid: string; kind: MediaKind; codec: CodecInfo; ssrc: number; track: Track }) {
    this.mid = params.mid;
    this.kind = params.kind;
    this.codec = params.codec;
    this.ssrc = params.ssrc;
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
    this.#awaitingKeyFrame = this.kind === 'video';
    producer.consumers.push(this);
    if (this.#open) producer.requestKeyFrame();
  }

  /** Stops carrying the current producer; the slot stays in the SDP, ready for reuse. */
  release(): void {
    const producer = this.producer;
    if (producer) producer.consumers = producer.consumers.filter((c) => c !== this);
    this.consumerId = null;
    this.producer = null;
    this.#sourceSsrc = -1;
  }

  onTrackOpen(): void {
    this.#open = true;
    if (this.producer && this.#awaitingKeyFrame) this.producer.requestKeyFrame();
  }

  onTrackClosed(): void {
    this.#open = false;
  }

  /**
   * Hot path: called once per packet per consumer with the header fields the producer read
   * before any consumer rewrote the shared buffer. Rewrites in place and sends; the native send
   * copies the bytes synchronously, so the next consumer may rewrite the same buffer.
   */
  forward(
    packet: Buffer,
    ssrc: number,
    sequence: number,
    timestamp: number,
    keyFrameStart: boolean,
    now: number,
  ): void {
    if (!this.#open) return;
    if (ssrc !== this.#sourceSsrc) {
      if (this.#awaitingKeyFrame && !keyFrameStart) {
        this.producer?.requestKeyFrame();
        return;
      }
      this.#switchSource(ssrc, sequence, timestamp, now);
    }
    const sequenceOut = (sequence + this.#sequenceOffset) & 0xffff;
    const timestampOut = (timestamp + this.#timestampOffset) >>> 0;
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
    if (this.track.sendMessageBinary(packet)) {
      this.packetsSent++;
      this.bytesSent += packet.length;
    }
  }

  /**
   * Continue the outgoing stream where it stopped: next sequence number, and a timestamp advanced
   * by the real time elapsed (at least one tick) so jitter buffers see a plausible gap.
   */
  #switchSource(ssrc: number, sequence: number, timestamp: number, now: number): void {
    const ticks = this.#started
      ? Math.max(1, Math.round(((now - this.#lastSentAt) * this.codec.clockRate) / 1000))
      : 0;
    this.#sequenceOffset = (this.#lastSequenceOut + 1 - sequence) & 0xffff;
    this.#timestampOffset = (this.#lastTimestampOut + ticks - timestamp) >>> 0;
    this.#sourceSsrc = ssrc;
    this.#awaitingKeyFrame = false;
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
    this.track.sendMessageBinary(report);
  }
}
