/**
 * A published track inside a worker: receives RTP from its publisher connection and hands every
 * packet to its consumers. The per-packet path reads the header once, rewrites in place and
 * allocates nothing.
 */
import type { Track } from 'node-datachannel';
import type { MediaKind, MediaSource } from '../api.ts';
import type { CodecInfo } from '../rtp/codecs.ts';
import { isVp8KeyFrameStart } from '../rtp/codecs.ts';
import {
  padHeaderExtensions,
  payloadOffsetOf,
  payloadTypeOf,
  readU32,
  sequenceOf,
  ssrcOf,
  timestampOf,
} from '../rtp/packet.ts';
import { buildPli, findSenderReport } from '../rtp/rtcp.ts';
import type { ConsumerSlot } from './consumer.ts';

export interface ProducerParams {
  id: string;
  participantId: string;
  kind: MediaKind;
  source: MediaSource;
  codec: CodecInfo;
  payloadType: number;
  /** Header extension ids whose values are connection-scoped (mid, rid): padded out before forwarding. */
  connectionScopedExtensionIds: number[];
  pliThrottleMs: number;
}

export class WorkerProducer {
  readonly id: string;
  readonly participantId: string;
  readonly kind: MediaKind;
  readonly source: MediaSource;
  readonly codec: CodecInfo;
  readonly payloadType: number;
  /** Consumers currently fed by this producer (an array: iterated per packet). */
  consumers: ConsumerSlot[] = [];
  /** SSRC of the media stream as last seen; 0 until the first packet. */
  mediaSsrc = 0;
  packetsReceived = 0;
  bytesReceived = 0;
  keyFrameRequestsSent = 0;
  closed = false;
  #track: Track | null = null;
  readonly #dropExtensionIds = new Uint8Array(256);
  readonly #hasDropExtensions: boolean;
  readonly #pliThrottleMs: number;
  #lastKeyFrameRequestAt = Number.NEGATIVE_INFINITY;
  #deferredKeyFrameRequest: NodeJS.Timeout | null = null;
  #pli: Buffer | null = null;

  constructor(params: ProducerParams) {
    this.id = params.id;
    this.participantId = params.participantId;
    this.kind = params.kind;
    this.source = params.source;
    this.codec = params.codec;
    this.payloadType = params.payloadType;
    this.#pliThrottleMs = params.pliThrottleMs;
    for (const id of params.connectionScopedExtensionIds) this.#dropExtensionIds[id] = 1;
    this.#hasDropExtensions = params.connectionScopedExtensionIds.length > 0;
  }

  attachTrack(track: Track): void {
    this.#track = track;
  }

  /** Everything the publisher's track delivers that is RTP. */
  onRtp(packet: Buffer): void {
    // Only the negotiated media payload type is forwarded: RTX and padding probes are not
    // negotiated towards subscribers yet (NACK/RTX comes with issue 4).
    if (payloadTypeOf(packet) !== this.payloadType) return;
    const payloadOffset = payloadOffsetOf(packet);
    if (payloadOffset < 0 || payloadOffset >= packet.length) return;
    this.packetsReceived++;
    this.bytesReceived += packet.length;
    const ssrc = ssrcOf(packet);
    this.mediaSsrc = ssrc;
    const keyFrameStart = this.kind === 'video' && isVp8KeyFrameStart(packet, payloadOffset);
    if (this.#hasDropExtensions) padHeaderExtensions(packet, this.#dropExtensionIds);
    const sequence = sequenceOf(packet);
    const timestamp = timestampOf(packet);
    const now = performance.now();
    const consumers = this.consumers;
    for (let i = 0; i < consumers.length; i++) {
      consumers[i]!.forward(packet, ssrc, sequence, timestamp, keyFrameStart, now);
    }
  }

  /** Sender reports are translated per consumer (their SSRC and timestamps differ), not forwarded. */
  onRtcp(packet: Buffer): void {
    const at = findSenderReport(packet);
    if (at < 0) return;
    const ssrc = readU32(packet, at + 4);
    const ntpHigh = readU32(packet, at + 8);
    const ntpLow = readU32(packet, at + 12);
    const rtpTimestamp = readU32(packet, at + 16);
    for (const consumer of this.consumers) consumer.forwardSenderReport(ssrc, ntpHigh, ntpLow, rtpTimestamp);
  }

  /**
   * Asks the publisher for a keyframe, at most once per throttle interval. A request inside the
   * interval is deferred to its end rather than dropped, so a subscriber that joins right after
   * another still gets its keyframe; a burst collapses into one deferred request.
   */
  requestKeyFrame(): void {
    if (this.kind !== 'video' || this.closed) return;
    const wait = this.#lastKeyFrameRequestAt + this.#pliThrottleMs - performance.now();
    if (wait <= 0) {
      this.#sendKeyFrameRequest();
      return;
    }
    if (this.#deferredKeyFrameRequest) return;
    this.#deferredKeyFrameRequest = setTimeout(() => {
      this.#deferredKeyFrameRequest = null;
      this.#sendKeyFrameRequest();
    }, wait);
  }

  #sendKeyFrameRequest(): void {
    const track = this.#track;
    if (this.closed || !track || this.mediaSsrc === 0 || !track.isOpen()) return;
    this.#lastKeyFrameRequestAt = performance.now();
    if (!this.#pli || readU32(this.#pli, 8) !== this.mediaSsrc) this.#pli = buildPli(this.mediaSsrc);
    track.sendMessageBinary(this.#pli);
    this.keyFrameRequestsSent++;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.#deferredKeyFrameRequest) clearTimeout(this.#deferredKeyFrameRequest);
    this.#deferredKeyFrameRequest = null;
    this.#track = null;
  }
}
