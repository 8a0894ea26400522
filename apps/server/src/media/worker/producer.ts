/**
 * A published track inside a worker: receives RTP from its publisher connection and hands every
 * packet to its consumers. The per-packet path reads the header once into a reused PacketInfo,
 * rewrites in place and allocates nothing.
 *
 * Simulcast: a video producer has one layer per rid of the offer (lowest resolution first), or a
 * single layer without simulcast. Chromium puts the rid only on the first packets of each SSRC,
 * so the SSRC -> layer mapping is learned from those and kept.
 */
import type { Track } from 'node-datachannel';
import type { MediaKind, MediaSource } from '../api.ts';
import { audioLevelDbov, readAudioLevel } from '../rtp/audio-level.ts';
import type { CodecInfo, Vp8Descriptor } from '../rtp/codecs.ts';
import { emptyVp8Descriptor, readVp8Descriptor } from '../rtp/codecs.ts';
import { readH264Descriptor } from '../rtp/h264.ts';
import { buildNack } from '../rtp/nack.ts';
import {
  headerExtensionLength,
  headerExtensionOffset,
  headerExtensionText,
  padHeaderExtensions,
  payloadOffsetOf,
  payloadTypeOf,
  RTP_HEADER_BYTES,
  readU32,
  sequenceOf,
  ssrcOf,
  timestampOf,
} from '../rtp/packet.ts';
import { buildPli, findSenderReport } from '../rtp/rtcp.ts';
import { AudioLevelMeter } from './active-speaker-detector.ts';
import type { ConsumerSlot } from './consumer.ts';
import { LayerRates } from './layer-rates.ts';
import { NackGenerator } from './nack-generator.ts';
import { PacketCache } from './packet-cache.ts';
import { PublisherRtx } from './publisher-rtx.ts';
import type { TwccSlot } from './twcc-stamper.ts';

export interface ProducerParams {
  id: string;
  participantId: string;
  kind: MediaKind;
  source: MediaSource;
  codec: CodecInfo;
  payloadType: number;
  /** fmtp parameters of the publisher's payload type (H.264 profile), offered to subscribers. */
  formatParameters?: string;
  /** Header extension ids whose values are connection-scoped (mid, rid): padded out before forwarding. */
  connectionScopedExtensionIds: number[];
  pliThrottleMs: number;
  /** Simulcast rids, lowest layer first; empty: one layer. */
  rids?: string[];
  /** Header extension id of the rid (rtp-stream-id); 0 when not negotiated. */
  ridExtensionId?: number;
  /** The publisher's RTX payload type for the media payload type; 0: no RTX. */
  rtxPayloadType?: number;
  /** Header extension id of repaired-rtp-stream-id (rid of an RTX stream); 0 when not negotiated. */
  repairedRidExtensionId?: number;
  /** Transport-wide feedback is sent for this publisher: NACK only what it reported lost. */
  nackGatedByFeedback?: boolean;
  /** Header extension id of transport-wide sequence numbers; 0 when not negotiated. */
  transportCcExtensionId?: number;
  /** Header extension id of the audio level (RFC 6464); 0 when not negotiated. */
  audioLevelExtensionId?: number;
}

/** The header fields of the packet being forwarded, read once by the producer for all consumers. */
export interface PacketInfo extends TwccSlot {
  layer: number;
  ssrc: number;
  sequence: number;
  timestamp: number;
  vp8: Vp8Descriptor;
}

/**
 * A browser acts on at most one keyframe request per 300 ms and drops the others (libwebrtc's
 * minimum keyframe send interval): a request sooner than that after the last one is wasted.
 */
const PUBLISHER_MIN_KEYFRAME_INTERVAL_MS = 300;

/** A layer that sent nothing for this long is treated as paused (the publisher's encoder dropped it). */
export const LAYER_IDLE_MS = 1000;

export class WorkerProducer {
  readonly id: string;
  readonly participantId: string;
  readonly kind: MediaKind;
  readonly source: MediaSource;
  readonly codec: CodecInfo;
  readonly payloadType: number;
  readonly formatParameters: string;
  /** Simulcast rids, lowest first (empty: no simulcast, one layer). */
  readonly rids: readonly string[];
  readonly layerCount: number;
  /** Consumers currently fed by this producer (an array: iterated per packet). */
  consumers: ConsumerSlot[] = [];
  /** SSRC of each layer's media stream; 0 until its first packet. */
  readonly layerSsrcs: number[];
  /** performance.now() of each layer's latest packet (which layers are being sent). */
  readonly layerLastPacketAt: Float64Array;
  /** Recent packets per layer, for answering subscribers' NACKs (video only; audio has no NACK). */
  readonly cache: PacketCache | null;
  /** NACKs for the publisher's lost packets (video only), and the RTX that repairs them. */
  readonly losses: NackGenerator | null;
  readonly #rtx: PublisherRtx | null;
  /** Measured bitrate per layer, for the subscribers' bandwidth allocation. */
  readonly rates: LayerRates;
  /**
   * The publisher's audio levels between two samples of the router's active speaker detector;
   * null unless this is a microphone that sends the audio level extension.
   */
  readonly audioLevels: AudioLevelMeter | null;
  packetsReceived = 0;
  bytesReceived = 0;
  keyFrameRequestsSent = 0;
  closed = false;
  #track: Track | null = null;
  readonly #info: PacketInfo = {
    layer: 0,
    ssrc: 0,
    sequence: 0,
    timestamp: 0,
    vp8: emptyVp8Descriptor(),
    twccAt: -1,
    twccHeaderBytes: 1,
  };
  readonly #transportCcExtensionId: number;
  readonly #audioLevelExtensionId: number;
  readonly #dropExtensionIds = new Uint8Array(256);
  readonly #hasDropExtensions: boolean;
  readonly #ridExtensionId: number;
  readonly #pliThrottleMs: number;
  readonly #lastKeyFrameRequestAt: number[];
  /** When the last keyframe of each layer began arriving. */
  readonly #lastKeyFrameAt: Float64Array;
  readonly #deferredKeyFrameRequest: (NodeJS.Timeout | null)[];

  constructor(params: ProducerParams) {
    this.id = params.id;
    this.participantId = params.participantId;
    this.kind = params.kind;
    this.source = params.source;
    this.codec = params.codec;
    this.payloadType = params.payloadType;
    this.formatParameters = params.formatParameters ?? '';
    this.rids = params.kind === 'video' ? (params.rids ?? []) : [];
    this.layerCount = Math.max(1, this.rids.length);
    this.layerSsrcs = new Array<number>(this.layerCount).fill(0);
    this.layerLastPacketAt = new Float64Array(this.layerCount).fill(Number.NEGATIVE_INFINITY);
    this.#lastKeyFrameRequestAt = new Array<number>(this.layerCount).fill(Number.NEGATIVE_INFINITY);
    this.#lastKeyFrameAt = new Float64Array(this.layerCount).fill(Number.NEGATIVE_INFINITY);
    this.#deferredKeyFrameRequest = new Array<NodeJS.Timeout | null>(this.layerCount).fill(null);
    this.#ridExtensionId = params.ridExtensionId ?? 0;
    this.#transportCcExtensionId = params.transportCcExtensionId ?? 0;
    this.#audioLevelExtensionId = params.audioLevelExtensionId ?? 0;
    // Screen-share audio is not a person speaking: only microphones compete for the floor.
    this.audioLevels =
      params.kind === 'audio' && params.source === 'microphone' && this.#audioLevelExtensionId > 0
        ? new AudioLevelMeter()
        : null;
    this.rates = new LayerRates(params.kind, this.layerCount);
    this.#pliThrottleMs = params.pliThrottleMs;
    for (const id of params.connectionScopedExtensionIds) this.#dropExtensionIds[id] = 1;
    this.#hasDropExtensions = params.connectionScopedExtensionIds.length > 0;
    this.cache = this.kind === 'video' ? new PacketCache(this.layerCount) : null;
    this.losses =
      this.kind === 'video'
        ? new NackGenerator({
            layerCount: this.layerCount,
            gatedByFeedback: params.nackGatedByFeedback === true,
            send: (layer, sequences) => this.#sendRtcp(buildNack(this.layerSsrcs[layer]!, sequences)),
            onGapTooWide: (layer) => this.requestKeyFrame(layer),
          })
        : null;
    this.#rtx =
      this.kind === 'video' && params.rtxPayloadType
        ? new PublisherRtx(params.rtxPayloadType, params.repairedRidExtensionId ?? 0)
        : null;
  }

  /** SSRC of the highest layer seen (the stream without simulcast). */
  get mediaSsrc(): number {
    for (let layer = this.layerCount - 1; layer >= 0; layer--)
      if (this.layerSsrcs[layer]) return this.layerSsrcs[layer]!;
    return 0;
  }

  attachTrack(track: Track): void {
    this.#track = track;
  }

  /** Everything the publisher's track delivers that is RTP. */
  onRtp(received: Buffer): void {
    let packet = received;
    // Only the negotiated media payload type is forwarded; RTX is restored to it first (padding
    // probes on RTX restore to nothing and are dropped).
    if (payloadTypeOf(packet) !== this.payloadType) {
      const repaired = this.#rtx?.restore(packet, this, performance.now());
      if (!repaired) return;
      packet = repaired;
    }
    const payloadOffset = payloadOffsetOf(packet);
    if (payloadOffset < 0 || payloadOffset >= packet.length) return;
    const ssrc = ssrcOf(packet);
    const layer = this.#layerOf(packet, ssrc);
    if (layer < 0) return;
    this.packetsReceived++;
    this.bytesReceived += packet.length;
    const now = performance.now();
    this.layerLastPacketAt[layer] = now;
    this.rates.add(layer, packet.length);
    const info = this.#info;
    info.layer = layer;
    info.ssrc = ssrc;
    info.sequence = sequenceOf(packet);
    this.losses?.onPacket(layer, info.sequence, now);
    info.timestamp = timestampOf(packet);
    if (this.codec.name === 'H264') readH264Descriptor(packet, payloadOffset, info.vp8);
    else if (this.kind === 'video') readVp8Descriptor(packet, payloadOffset, info.vp8);
    if (info.vp8.keyFrameStart) this.#lastKeyFrameAt[layer] = now;
    this.#findTransportCc(packet, info);
    if (this.audioLevels) {
      const level = readAudioLevel(packet, this.#audioLevelExtensionId);
      if (level >= 0) this.audioLevels.add(audioLevelDbov(level));
    }
    if (this.#hasDropExtensions) padHeaderExtensions(packet, this.#dropExtensionIds);
    this.cache?.store(layer, info.sequence, packet, now);
    const consumers = this.consumers;
    for (let i = 0; i < consumers.length; i++) consumers[i]!.forward(packet, info, now);
  }

  /**
   * Where the publisher's transport-wide sequence number sits: padded out below, each subscriber
   * connection writes its own number there (twcc-stamper.ts).
   */
  #findTransportCc(packet: Buffer, info: PacketInfo): void {
    info.twccAt = -1;
    if (this.#transportCcExtensionId === 0) return;
    const at = headerExtensionOffset(packet, this.#transportCcExtensionId);
    if (at < 0 || headerExtensionLength(packet, at) !== 2) return;
    info.twccAt = at;
    info.twccHeaderBytes = packet[RTP_HEADER_BYTES + (packet[0]! & 0x0f) * 4] === 0xbe ? 1 : 2;
  }

  /** Layer of a media packet: by known SSRC, else by its rid (first packets only); -1 if unknown. */
  #layerOf(packet: Buffer, ssrc: number): number {
    const ssrcs = this.layerSsrcs;
    for (let layer = 0; layer < ssrcs.length; layer++) if (ssrcs[layer] === ssrc) return layer;
    // No simulcast: one stream, whose SSRC may change (the browser restarted its sender).
    const layer =
      this.rids.length === 0 ? 0 : this.rids.indexOf(headerExtensionText(packet, this.#ridExtensionId));
    if (layer < 0) return -1;
    ssrcs[layer] = ssrc;
    this.losses?.resetLayer(layer); // a new stream: its sequence numbers start elsewhere
    return layer;
  }

  /**
   * The layer a consumer wanting `preferred` should receive now: the highest layer at or below it
   * that is being sent, else the lowest one being sent (the publisher paused the others), else
   * `preferred` itself (nothing sent yet).
   */
  bestLayer(preferred: number, now: number): number {
    const wanted = Math.min(preferred, this.layerCount - 1);
    for (let layer = wanted; layer >= 0; layer--)
      if (now - this.layerLastPacketAt[layer]! < LAYER_IDLE_MS) return layer;
    for (let layer = wanted + 1; layer < this.layerCount; layer++) {
      if (now - this.layerLastPacketAt[layer]! < LAYER_IDLE_MS) return layer;
    }
    return wanted;
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
   * Asks the publisher for a keyframe of `layer`, at most once per throttle interval and layer
   * (PLI and FIR from subscribers both end here). A request inside the interval is deferred to
   * its end rather than dropped, so a subscriber that joins right after another still gets its
   * keyframe; a burst collapses into one deferred request.
   */
  requestKeyFrame(layer = this.layerCount - 1): void {
    if (this.kind !== 'video' || this.closed || layer < 0 || layer >= this.layerCount) return;
    const wait = this.#lastKeyFrameRequestAt[layer]! + this.#pliThrottleMs - performance.now();
    if (wait > 0 && this.#deferredKeyFrameRequest[layer]) return;
    this.#scheduleKeyFrameRequest(layer, wait);
  }

  /**
   * Asks for the keyframe a consumer that shows nothing yet starts on. Deferring it to the end of
   * the throttle interval, as requestKeyFrame does, kept one join in four waiting half a second
   * when viewers joined within 0.5 s of each other (docs/benchmarks.md). An unanswered request
   * still within the interval brings a keyframe that serves this consumer too. Otherwise the
   * request goes out as soon as the publisher would honour it: a browser ignores keyframe
   * requests within 300 ms of the one it last acted on (libwebrtc's minimum keyframe send
   * interval), which also bounds what creating consumers in a loop can force out of it. A
   * throttle set shorter than that wins, so this never goes out later than requestKeyFrame's
   * deferred request it may replace.
   */
  requestStartingKeyFrame(layer: number): void {
    if (this.kind !== 'video' || this.closed || layer < 0 || layer >= this.layerCount) return;
    const now = performance.now();
    const requestedAt = this.#lastKeyFrameRequestAt[layer]!;
    const answered = this.#lastKeyFrameAt[layer]! >= requestedAt;
    if (!answered && now - requestedAt < this.#pliThrottleMs) return;
    const spacing = Math.min(PUBLISHER_MIN_KEYFRAME_INTERVAL_MS, this.#pliThrottleMs);
    const wait = requestedAt + spacing - now;
    this.#scheduleKeyFrameRequest(layer, wait);
  }

  /** Sends the layer's keyframe request after `wait` ms (at once if not positive), replacing a pending one. */
  #scheduleKeyFrameRequest(layer: number, wait: number): void {
    const deferred = this.#deferredKeyFrameRequest[layer];
    if (deferred) clearTimeout(deferred);
    this.#deferredKeyFrameRequest[layer] = null;
    if (wait <= 0) {
      this.#sendKeyFrameRequest(layer);
      return;
    }
    this.#deferredKeyFrameRequest[layer] = setTimeout(() => {
      this.#deferredKeyFrameRequest[layer] = null;
      this.#sendKeyFrameRequest(layer);
    }, wait);
  }

  #sendRtcp(packet: Buffer): void {
    const track = this.#track;
    if (!this.closed && track?.isOpen()) track.sendMessageBinary(packet);
  }

  #sendKeyFrameRequest(layer: number): void {
    const track = this.#track;
    const ssrc = this.layerSsrcs[layer]!;
    if (this.closed || !track || ssrc === 0 || !track.isOpen()) return;
    this.#lastKeyFrameRequestAt[layer] = performance.now();
    track.sendMessageBinary(buildPli(ssrc));
    this.keyFrameRequestsSent++;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.#deferredKeyFrameRequest) if (timer) clearTimeout(timer);
    this.#deferredKeyFrameRequest.fill(null);
    this.losses?.close();
    this.#track = null;
  }
}
