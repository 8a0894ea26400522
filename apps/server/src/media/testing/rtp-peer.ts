/**
 * node-datachannel peers that behave like a browser towards the SFU, for tests and the load
 * generator: a publisher that offers one sendonly track and sends synthetic RTP (VP8 with valid
 * payload descriptors and periodic keyframes, or Opus-sized audio), answering PLI/FIR with a
 * keyframe as an encoder would; and a subscriber that answers the SFU's offer, counts what it
 * receives per SSRC and per mid, checks sequence and timestamp continuity, and can send PLI.
 */

import { randomInt } from 'node:crypto';
import nodeDataChannel, { type PeerConnection, type Track } from 'node-datachannel';
import { isVp8KeyFrameStart } from '../rtp/codecs.ts';
import { buildNack, unwrapRtx } from '../rtp/nack.ts';
import {
  findHeaderExtension,
  isRtcp,
  payloadOffsetOf,
  payloadTypeOf,
  sequenceOf,
  ssrcOf,
  timestampOf,
  writeU32,
} from '../rtp/packet.ts';
import { buildFir, buildPli, forEachKeyFrameRequest } from '../rtp/rtcp.ts';
import { TRANSPORT_CC_URI, TwccRecorder } from '../rtp/twcc.ts';
import { guard } from '../worker/guard.ts';

export type PeerKind = 'audio' | 'video';
export type PeerCodec = 'VP8' | 'opus';

/** Header extension id the publisher peer uses for mid (as Chromium does, its value is the mid). */
export const TEST_MID_EXTENSION_ID = 4;
const MID_EXTENSION_URI = 'urn:ietf:params:rtp-hdrext:sdes:mid';
const VIDEO_PAYLOAD_TYPE = 96;
const AUDIO_PAYLOAD_TYPE = 111;

function peerConnection(name: string, bindAddress: string): PeerConnection {
  return new nodeDataChannel.PeerConnection(name, {
    iceServers: [],
    bindAddress,
    disableAutoNegotiation: true,
  });
}

/** Resolves once the connection's state is 'connected'; rejects on failure or after `timeoutMs`. */
function waitConnected(
  pc: PeerConnection,
  onState: (cb: (state: string) => void) => void,
  timeoutMs = 10_000,
) {
  return new Promise<void>((resolve, reject) => {
    if (pc.state() === 'connected') return resolve();
    const timer = setTimeout(() => reject(new Error('peer did not connect')), timeoutMs);
    onState((state) => {
      if (state === 'connected') {
        clearTimeout(timer);
        resolve();
      } else if (state === 'failed' || state === 'closed') {
        clearTimeout(timer);
        reject(new Error(`peer connection ${state}`));
      }
    });
  });
}

/** One state callback per connection (node-datachannel keeps only the last one registered). */
function stateFanOut(pc: PeerConnection): (cb: (state: string) => void) => void {
  const listeners: ((state: string) => void)[] = [];
  pc.onStateChange(
    guard('test peer state', (state: string) => {
      for (const listener of listeners) listener(state);
    }),
  );
  return (cb) => {
    listeners.push(cb);
  };
}

function gatheringComplete(pc: PeerConnection): Promise<void> {
  return new Promise((resolve) => {
    if (pc.gatheringState() === 'complete') return resolve();
    pc.onGatheringStateChange(
      guard('test peer gathering', (state: string) => {
        if (state === 'complete') resolve();
      }),
    );
  });
}

async function closePeer(pc: PeerConnection): Promise<void> {
  try {
    pc.close();
  } catch {
    // already closed
  }
  await new Promise((resolve) => setTimeout(resolve, 20));
}

export interface PublisherPeerOptions {
  kind: PeerKind;
  codec?: PeerCodec;
  bindAddress?: string;
  /** Adds a mid header extension (id 4) to the offer and to every packet, as Chromium does. */
  midExtension?: boolean;
  /** Payload type to offer and send (default 96 for VP8, 111 for Opus). */
  payloadType?: number;
  /** Audio: offers ssrc-audio-level (RFC 6464) and sends `setAudioLevel()`'s level on every packet. */
  audioLevelExtension?: boolean;
  /**
   * Offers transport-wide congestion control and numbers every packet (id 8), as a browser's
   * publisher always does; the SFU then sends this peer transport-cc feedback.
   */
  transportCcExtension?: boolean;
}

export interface SendOptions {
  /** Video: packets per second (default 150, ~1,100 bytes each, 30 frames/s). Audio: 50. */
  packetsPerSecond?: number;
  /** Bytes per packet (default 1,100 for video, 100 for audio). */
  packetBytes?: number;
  /** Periodic keyframe interval for video (default 3,000 ms). 0: only on request. */
  keyFrameIntervalMs?: number;
}

export interface PublisherPeer {
  readonly kind: PeerKind;
  readonly ssrc: number;
  /** The offer to hand to the SFU (one sendonly media section), without candidates. */
  readonly offer: string;
  /**
   * This peer's ICE candidates (`candidate:…`), left out of the offer: a caller may trickle them
   * once setAnswer() has returned, as a browser does. The SFU needs none of them, it learns the
   * address from this peer's connectivity checks.
   */
  readonly candidates: string[];
  setAnswer(answerSdp: string): Promise<void>;
  /** Starts sending synthetic RTP at a realistic rate until stop() or close(). */
  start(options?: SendOptions): void;
  stop(): void;
  /** Sends one frame now (video: its packets; audio: one packet). */
  sendFrame(keyFrame?: boolean): void;
  /** Sends a hand-made RTP packet as it is (abuse tests: oversized or malformed packets). */
  sendRtp(packet: Buffer): boolean;
  /** The audio level sent from now on, in -dBov (0 loudest, 127 silence), with the voice bit. */
  setAudioLevel(level: number, voice: boolean): void;
  readonly stats: {
    packetsSent: number;
    framesSent: number;
    keyFramesSent: number;
    /** PLI and FIR received for this peer's SSRC. */
    keyFrameRequests: number;
    /** Arrival times (performance.now()) of keyframe requests. */
    keyFrameRequestTimes: number[];
    lastSequence: number;
    lastTimestamp: number;
  };
  close(): Promise<void>;
}

export async function createPublisherPeer(options: PublisherPeerOptions): Promise<PublisherPeer> {
  const kind = options.kind;
  const pc = peerConnection(`test-pub-${kind}`, options.bindAddress ?? '127.0.0.1');
  const onState = stateFanOut(pc);
  const ssrc = randomInt(2, 0xffffffff);
  const media =
    kind === 'video'
      ? new nodeDataChannel.Video('0', 'SendOnly')
      : new nodeDataChannel.Audio('0', 'SendOnly');
  const payloadType = options.payloadType ?? (kind === 'video' ? VIDEO_PAYLOAD_TYPE : AUDIO_PAYLOAD_TYPE);
  if (media instanceof nodeDataChannel.Video) media.addVP8Codec(payloadType);
  else media.addOpusCodec(payloadType);
  media.addSSRC(ssrc, 'test-publisher', 'test-stream', `test-${kind}`);
  const track = pc.addTrack(media);
  const gathered = gatheringComplete(pc);
  pc.setLocalDescription('offer');
  await gathered;
  const { sdp, candidates } = withoutCandidates(pc.localDescription()?.sdp ?? '');
  let offer = sdp;
  if (options.midExtension) {
    offer = offer.replace(/(a=mid:0\r?\n)/, `$1a=extmap:${TEST_MID_EXTENSION_ID} ${MID_EXTENSION_URI}\r\n`);
  }
  const extensions = new TestExtensions();
  if (options.midExtension) extensions.mid = true;
  if (options.audioLevelExtension) {
    offer = offer.replace(
      /(a=mid:0\r?\n)/,
      `$1a=extmap:${TEST_AUDIO_LEVEL_EXTENSION_ID} ${AUDIO_LEVEL_URI}\r\n`,
    );
    extensions.audioLevelId = TEST_AUDIO_LEVEL_EXTENSION_ID;
  }
  if (options.transportCcExtension) {
    offer = offer.replace(
      /(a=mid:0\r?\n)/,
      `$1a=extmap:${TEST_TRANSPORT_CC_EXTENSION_ID} ${TRANSPORT_CC_URI}\r\na=rtcp-fb:${payloadType} transport-cc\r\n`,
    );
    extensions.transportCc = { id: TEST_TRANSPORT_CC_EXTENSION_ID, next: 0 };
  }
  const sender = new SyntheticSender(track, kind, ssrc, payloadType, extensions);
  track.onMessage(guard('test publisher rtcp', (message: Buffer) => sender.onRtcp(message)));
  return {
    kind,
    ssrc,
    offer,
    candidates,
    async setAnswer(answerSdp: string) {
      pc.setRemoteDescription(answerSdp, 'answer');
      await waitConnected(pc, onState);
      await waitOpen(track);
    },
    start: (sendOptions) => sender.start(sendOptions),
    stop: () => sender.stop(),
    sendFrame: (keyFrame) => sender.sendFrame(keyFrame === true),
    sendRtp: (packet) => track.isOpen() && track.sendMessageBinary(packet),
    setAudioLevel: (level, voice) => {
      extensions.audioLevel = (voice ? 0x80 : 0) | (level & 0x7f);
    },
    stats: sender.stats,
    async close() {
      sender.stop();
      await closePeer(pc);
    },
  };
}

/**
 * Takes the candidates out of an offer. An offerer whose answerer can already reach it loses a
 * race inside libdatachannel 0.24.5: rtc::PeerConnection::setRemoteDescription() hands the answer
 * to the ICE agent before it keeps the answer for the DTLS fingerprint check. The answerer's
 * connectivity checks, sent since it got the offer, have left a candidate pair waiting, so ICE
 * connects at once and the handshake can reach the check while no fingerprint is kept; the check
 * then fails ("certificate verify failed", "DTLS alert: unknown CA") whenever this thread is
 * descheduled for a round trip, which a loaded machine does. Without our candidates the answerer
 * cannot reach us first: our checks start from the answer, whose own candidates libdatachannel
 * adds only after keeping it. (Open upstream: libdatachannel pull request #1612.)
 */
export function withoutCandidates(sdp: string): { sdp: string; candidates: string[] } {
  const candidates: string[] = [];
  const kept = sdp.split(/\r?\n/).filter((line) => {
    if (line.startsWith('a=candidate:')) candidates.push(line.slice(2).trim());
    return !line.startsWith('a=candidate:') && !line.startsWith('a=end-of-candidates');
  });
  return { sdp: kept.join('\r\n'), candidates };
}

export interface SimulcastLayerOptions extends SendOptions {
  rid: string;
}

export interface SimulcastPublisherPeer {
  /** Without candidates, as the single-stream publisher's (see withoutCandidates). */
  readonly offer: string;
  readonly candidates: string[];
  setAnswer(answerSdp: string): Promise<void>;
  start(): void;
  stop(): void;
  /** Stats of each layer's stream, lowest first. */
  readonly layers: PublisherPeer['stats'][];
  close(): Promise<void>;
}

/**
 * A video publisher sending one stream per simulcast layer as Chromium does: one media section
 * whose offer lists the rids (`a=rid`, `a=simulcast:send`, lowest first), one SSRC per layer with
 * the rid on its first packets, transport-wide sequence numbers across all layers. Each layer
 * sends at its own rate (`packetsPerSecond`, `packetBytes`) and answers keyframe requests for
 * its SSRC.
 */
export async function createSimulcastPublisherPeer(options: {
  layers: SimulcastLayerOptions[];
  bindAddress?: string;
}): Promise<SimulcastPublisherPeer> {
  const pc = peerConnection('test-pub-simulcast', options.bindAddress ?? '127.0.0.1');
  const onState = stateFanOut(pc);
  const media = new nodeDataChannel.Video('0', 'SendOnly');
  media.addVP8Codec(VIDEO_PAYLOAD_TYPE);
  const track = pc.addTrack(media);
  const gathered = gatheringComplete(pc);
  pc.setLocalDescription('offer');
  await gathered;
  const rids = options.layers.map((layer) => layer.rid);
  const simulcastLines = [
    `a=extmap:${TEST_RID_EXTENSION_ID} ${RID_URI}`,
    `a=extmap:${TEST_TRANSPORT_CC_EXTENSION_ID} ${TRANSPORT_CC_URI}`,
    ...rids.map((rid) => `a=rid:${rid} send`),
    `a=simulcast:send ${rids.join(';')}`,
  ];
  const { sdp, candidates } = withoutCandidates(pc.localDescription()?.sdp ?? '');
  const offer = sdp.replace(/(a=mid:0\r?\n)/, `$1${simulcastLines.join('\r\n')}\r\n`);
  const transportCc = { id: TEST_TRANSPORT_CC_EXTENSION_ID, next: 0 };
  const senders = options.layers.map((layer) => {
    const extensions = new TestExtensions();
    extensions.rid = layer.rid;
    extensions.ridPacketsLeft = 50;
    extensions.transportCc = transportCc;
    return new SyntheticSender(track, 'video', randomInt(2, 0xffffffff), VIDEO_PAYLOAD_TYPE, extensions);
  });
  track.onMessage(
    guard('test simulcast rtcp', (message: Buffer) => {
      for (const sender of senders) sender.onRtcp(message);
    }),
  );
  return {
    offer,
    candidates,
    async setAnswer(answerSdp: string) {
      pc.setRemoteDescription(answerSdp, 'answer');
      await waitConnected(pc, onState);
      await waitOpen(track);
    },
    start: () => {
      for (const [i, sender] of senders.entries()) sender.start(options.layers[i]);
    },
    stop: () => {
      for (const sender of senders) sender.stop();
    },
    layers: senders.map((sender) => sender.stats),
    async close() {
      for (const sender of senders) sender.stop();
      await closePeer(pc);
    },
  };
}

function waitOpen(track: Track): Promise<void> {
  return new Promise((resolve) => {
    if (track.isOpen()) return resolve();
    track.onOpen(guard('test track open', () => resolve()));
  });
}

export const TEST_AUDIO_LEVEL_EXTENSION_ID = 6;
export const TEST_RID_EXTENSION_ID = 7;
export const TEST_TRANSPORT_CC_EXTENSION_ID = 8;
const AUDIO_LEVEL_URI = 'urn:ietf:params:rtp-hdrext:ssrc-audio-level';
const RID_URI = 'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id';

/**
 * The header extensions a synthetic sender writes (one-byte form, RFC 8285), as Chromium would:
 * mid, the rid on a stream's first packets only, a transport-wide sequence number shared by all
 * streams of the connection, the audio level.
 */
class TestExtensions {
  mid = false;
  rid = '';
  ridPacketsLeft = 0;
  transportCc: { id: number; next: number } | null = null;
  audioLevelId = 0;
  audioLevel = 0x7f;

  /** Writes the extension block after the fixed header; returns the header length. */
  write(packet: Buffer): number {
    let at = 16;
    if (this.mid) {
      packet[at++] = (TEST_MID_EXTENSION_ID << 4) | 0;
      packet[at++] = 0x30; // "0"
    }
    if (this.ridPacketsLeft > 0 && this.rid) {
      this.ridPacketsLeft--;
      packet[at++] = (TEST_RID_EXTENSION_ID << 4) | (this.rid.length - 1);
      at += packet.write(this.rid, at, 'latin1');
    }
    if (this.transportCc) {
      const sequence = this.transportCc.next++ & 0xffff;
      packet[at++] = (this.transportCc.id << 4) | 1;
      packet[at++] = sequence >> 8;
      packet[at++] = sequence & 0xff;
    }
    if (this.audioLevelId) {
      packet[at++] = (this.audioLevelId << 4) | 0;
      packet[at++] = this.audioLevel;
    }
    if (at === 16) return 12;
    const words = Math.ceil((at - 16) / 4);
    packet.fill(0, at, 16 + words * 4);
    packet.set([0xbe, 0xde, 0, words], 12);
    return 16 + words * 4;
  }
}

/** Generates RTP the way an encoder and packetizer would; answers keyframe requests. */
class SyntheticSender {
  readonly stats: PublisherPeer['stats'] = {
    packetsSent: 0,
    framesSent: 0,
    keyFramesSent: 0,
    keyFrameRequests: 0,
    keyFrameRequestTimes: [],
    lastSequence: 0,
    lastTimestamp: 0,
  };
  readonly #track: Track;
  readonly #kind: PeerKind;
  readonly #ssrc: number;
  readonly #payloadType: number;
  readonly #extensions: TestExtensions;
  #sequence = randomInt(0, 0x10000);
  #timestamp = randomInt(0, 0xffffffff);
  #pictureId = randomInt(0, 0x8000);
  #timer: NodeJS.Timeout | null = null;
  #keyFrameWanted = true;
  #lastKeyFrameAt = 0;
  #packetsPerFrame = 5;
  #packetBytes = 0;
  #keyFrameIntervalMs = 3000;
  readonly #buffer = Buffer.alloc(1200);

  constructor(track: Track, kind: PeerKind, ssrc: number, payloadType: number, extensions: TestExtensions) {
    this.#track = track;
    this.#kind = kind;
    this.#ssrc = ssrc;
    this.#payloadType = payloadType;
    this.#extensions = extensions;
  }

  onRtcp(message: Buffer): void {
    if (!isRtcp(message)) return;
    forEachKeyFrameRequest(message, (mediaSsrc) => {
      if (mediaSsrc !== this.#ssrc) return;
      this.stats.keyFrameRequests++;
      this.stats.keyFrameRequestTimes.push(performance.now());
      this.#keyFrameWanted = true;
    });
  }

  start(options: SendOptions = {}): void {
    this.stop();
    const frameMs = this.#kind === 'video' ? 1000 / 30 : 20;
    this.#packetBytes = options.packetBytes ?? 0;
    if (this.#kind === 'video') {
      this.#packetsPerFrame = Math.max(1, Math.round((options.packetsPerSecond ?? 150) / 30));
      this.#keyFrameIntervalMs = options.keyFrameIntervalMs ?? 3000;
    }
    this.#timer = setInterval(
      guard('test sender', () => this.sendFrame(false)),
      frameMs,
    );
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  sendFrame(forceKeyFrame: boolean): void {
    if (!this.#track.isOpen()) return;
    if (this.#kind === 'audio') {
      this.#sendPacket(this.#packetBytes || 100, true, (payload) => payload.fill(0xfc, 0, 1));
      this.#timestamp = (this.#timestamp + 960) >>> 0;
      this.stats.framesSent++;
      return;
    }
    const now = performance.now();
    const periodic = this.#keyFrameIntervalMs > 0 && now - this.#lastKeyFrameAt >= this.#keyFrameIntervalMs;
    const keyFrame = forceKeyFrame || this.#keyFrameWanted || periodic;
    if (keyFrame) {
      this.#keyFrameWanted = false;
      this.#lastKeyFrameAt = now;
      this.stats.keyFramesSent++;
    }
    this.#pictureId = (this.#pictureId + 1) & 0x7fff;
    for (let i = 0; i < this.#packetsPerFrame; i++) {
      const last = i === this.#packetsPerFrame - 1;
      this.#sendPacket(this.#packetBytes || 1100, last, (payload) =>
        this.#writeVp8(payload, i === 0, keyFrame),
      );
    }
    this.#timestamp = (this.#timestamp + 3000) >>> 0;
    this.stats.framesSent++;
  }

  /** VP8 payload descriptor (RFC 7741) with a 15-bit picture id, then the payload header. */
  #writeVp8(payload: Buffer, first: boolean, keyFrame: boolean): void {
    payload[0] = first ? 0x90 : 0x80; // X=1, S=start of partition, PID=0
    payload[1] = 0x80; // I: picture id present
    payload[2] = 0x80 | (this.#pictureId >> 8);
    payload[3] = this.#pictureId & 0xff;
    if (!first) return;
    payload[4] = keyFrame ? 0x10 : 0x11; // bit 0 is P: 0 = key frame
    if (keyFrame) payload.set([0x00, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01], 5); // start code, 640x480
  }

  #sendPacket(size: number, marker: boolean, writePayload: (payload: Buffer) => void): void {
    const packet = this.#buffer.subarray(0, size);
    packet.fill(0x55);
    packet[1] = (marker ? 0x80 : 0) | this.#payloadType;
    packet.writeUInt16BE(this.#sequence, 2);
    writeU32(packet, 4, this.#timestamp);
    writeU32(packet, 8, this.#ssrc);
    const headerLength = this.#extensions.write(packet);
    packet[0] = headerLength > 12 ? 0x90 : 0x80;
    writePayload(packet.subarray(headerLength));
    if (this.#track.sendMessageBinary(packet)) this.stats.packetsSent++;
    this.stats.lastSequence = this.#sequence;
    this.stats.lastTimestamp = this.#timestamp;
    this.#sequence = (this.#sequence + 1) & 0xffff;
  }
}

/** What a subscriber saw of one incoming SSRC. */
export interface ReceivedStream {
  ssrc: number;
  mid: string;
  packets: number;
  bytes: number;
  payloadTypes: Set<number>;
  keyFrames: number;
  /** Sequence numbers skipped (a jump of +3 counts 2). */
  sequenceGaps: number;
  /** Packets whose sequence number went backwards or repeated. */
  sequenceBackwards: number;
  timestampBackwards: number;
  /** Largest forward timestamp step between consecutive packets. */
  largestTimestampStep: number;
  /** Packets still carrying a mid header extension with id TEST_MID_EXTENSION_ID. */
  midExtensions: number;
  firstSequence: number;
  lastSequence: number;
  lastTimestamp: number;
  /** Arrival time of the first packet and of the first keyframe (performance.now()). */
  firstPacketAt: number;
  firstKeyFrameAt: number;
  /** Distinct sequence numbers received, retransmissions included (the final loss is span - this). */
  uniquePackets: number;
  /** Retransmissions received (RTX, or a media packet that filled a gap late). */
  retransmissions: number;
  /** Sequence numbers received so far, as a bitmap over the 16-bit space. */
  seen: Uint8Array;
  /** Sequence numbers skipped just before the latest packet (-1: it was behind the highest one). */
  gapBefore: number;
}

/** Subscriber peer options: feedback as a browser sends it (test tooling, not a full jitter buffer). */
export interface SubscriberPeerOptions {
  bindAddress?: string;
  /** Send generic NACKs for gaps in the incoming sequence numbers. */
  nack?: boolean;
  /**
   * Sends transport-cc feedback every 50 ms on what arrived, as a browser does, when the SFU's
   * offer negotiates it (the SFU then estimates this peer's downlink). Default: off.
   */
  transportFeedback?: boolean;
}

/** How the peer's NACKs are paced: a retry per NACK_RETRY_MS, up to NACK_RETRIES, for 1 s at most. */
const NACK_INTERVAL_MS = 10;
const NACK_RETRY_MS = 40;
const NACK_RETRIES = 5;

export interface SubscriberPeer {
  /** Applies the SFU's offer (first or renegotiated) and returns the answer. */
  answer(offerSdp: string): Promise<string>;
  /** Resolves when the connection is up. */
  connected(): Promise<void>;
  readonly streams: Map<number, ReceivedStream>;
  streamForMid(mid: string): ReceivedStream | undefined;
  /** Waits until `predicate` holds, polling every 20 ms. */
  waitFor(predicate: () => boolean, timeoutMs?: number, what?: string): Promise<void>;
  sendPli(mid: string): void;
  sendFir(mid: string): void;
  /** SSRCs the SFU's offer declared per mid. */
  readonly offeredSsrcs: Map<string, number>;
  /**
   * True once the connection failed without ever having connected: how the SFU losing the DTLS
   * fingerprint race on its side shows here (it offers this connection, see withoutCandidates).
   */
  setupFailed(): boolean;
  /** Calls `listener` once when the connection fails without ever having connected. */
  onSetupFailure(listener: () => void): void;
  /** NACKs sent (RTCP packets) when created with `nack`. */
  readonly nacksSent: () => number;
  /** Also hands every RTP packet received to `listener` (tests that inspect payloads). */
  onRtp(listener: (mid: string, packet: Buffer) => void): void;
  close(): Promise<void>;
}

export async function createSubscriberPeer(options: SubscriberPeerOptions = {}): Promise<SubscriberPeer> {
  const pc = peerConnection('test-sub', options.bindAddress ?? '127.0.0.1');
  const onState = stateFanOut(pc);
  const connected = waitConnected(pc, onState, 20_000);
  connected.catch(() => {});
  const setup = watchSetup(pc, onState);
  const streams = new Map<number, ReceivedStream>();
  const tracks = new Map<string, Track>();
  const offeredSsrcs = new Map<string, number>();
  const rtxPayloadTypes = new Map<string, number>();
  const nacker = options.nack ? new TestNacker() : null;
  const rtpListeners: ((mid: string, packet: Buffer) => void)[] = [];
  let firSequence = 0;
  const rtxScratch = Buffer.alloc(1500);
  const feedback = options.transportFeedback ? new FeedbackSender(tracks, offeredSsrcs) : null;
  pc.onTrack(
    guard('test subscriber track', (track: Track) => {
      const mid = track.mid();
      tracks.set(mid, track);
      track.onMessage(
        guard('test subscriber media', (message: Buffer) => {
          feedback?.onPacket(message);
          if (!isRtcp(message)) for (const listener of rtpListeners) listener(mid, message);
          let packet = message;
          let retransmission = false;
          if (
            !isRtcp(message) &&
            message.length >= 12 &&
            payloadTypeOf(message) === rtxPayloadTypes.get(mid)
          ) {
            const restored = unwrapRtx(message, rtxScratch, {
              payloadType: VIDEO_PAYLOAD_TYPE,
              ssrc: offeredSsrcs.get(mid) ?? 0,
            });
            if (!restored) return;
            packet = restored;
            retransmission = true;
          }
          const stream = receive(streams, mid, packet, retransmission);
          if (stream && nacker) nacker.onPacket(track, stream, sequenceOf(packet));
        }),
      );
    }),
  );
  const nackTimer = nacker
    ? setInterval(
        guard('test subscriber nack', () => nacker.flush()),
        NACK_INTERVAL_MS,
      )
    : null;
  const trackFor = (mid: string): Track => {
    const track = tracks.get(mid);
    if (!track) throw new Error(`no track for mid ${mid}`);
    return track;
  };
  return {
    async answer(offerSdp: string) {
      for (const [mid, ssrc] of parseOfferedSsrcs(offerSdp)) offeredSsrcs.set(mid, ssrc);
      for (const [mid, payloadType] of parseRtxPayloadTypes(offerSdp)) rtxPayloadTypes.set(mid, payloadType);
      feedback?.useOffer(offerSdp);
      pc.setRemoteDescription(offerSdp, 'offer');
      pc.setLocalDescription('answer');
      await gatheringComplete(pc);
      return pc.localDescription()?.sdp ?? '';
    },
    connected: () => connected,
    streams,
    streamForMid: (mid) => [...streams.values()].find((s) => s.mid === mid),
    waitFor: (predicate, timeoutMs = 10_000, what = 'condition') => waitFor(predicate, timeoutMs, what),
    sendPli: (mid) => trackFor(mid).sendMessageBinary(buildPli(offeredSsrcs.get(mid) ?? 0, 0x5eed)),
    sendFir: (mid) =>
      trackFor(mid).sendMessageBinary(buildFir(offeredSsrcs.get(mid) ?? 0, firSequence++, 0x5eed)),
    offeredSsrcs,
    setupFailed: setup.failed,
    onSetupFailure: setup.onFailure,
    nacksSent: () => nacker?.sent ?? 0,
    onRtp: (listener) => rtpListeners.push(listener),
    close: () => {
      setup.closing();
      if (nackTimer) clearInterval(nackTimer);
      feedback?.close();
      return closePeer(pc);
    },
  };
}

/** Tells apart a connection that failed before it ever connected from one that failed later. */
function watchSetup(pc: PeerConnection, onState: (cb: (state: string) => void) => void) {
  let connected = false;
  let failed = false;
  let closing = false;
  const listeners: (() => void)[] = [];
  const nativeState = () => {
    try {
      return pc.state();
    } catch {
      return 'closed';
    }
  };
  onState((state) => {
    if (state === 'connected') connected = true;
    if (state !== 'failed' || connected || failed) return;
    failed = true;
    for (const listener of listeners) listener();
  });
  return {
    // The native state changes before its callback reaches this thread, and a failed connection
    // closes itself right after failing.
    failed: () => failed || (!connected && !closing && ['failed', 'closed'].includes(nativeState())),
    onFailure: (listener: () => void) => {
      listeners.push(listener);
    },
    closing: () => {
      closing = true;
    },
  };
}

/** Per-mid RTX payload types of the SFU's offer (`a=fmtp:X apt=96`). */
function parseRtxPayloadTypes(sdp: string): Map<string, number> {
  const result = new Map<string, number>();
  for (const section of sdp.split(/\r?\nm=/).slice(1)) {
    const mid = /a=mid:(\S+)/.exec(section)?.[1];
    const rtx = new RegExp(`a=fmtp:(\\d+) apt=${VIDEO_PAYLOAD_TYPE}`).exec(section)?.[1];
    if (mid && rtx) result.set(mid, Number(rtx));
  }
  return result;
}

/** A missing sequence number the test peer is NACKing. */
interface PendingNack {
  track: Track;
  stream: ReceivedStream;
  sequence: number;
  detectedAt: number;
  lastSentAt: number;
  retries: number;
}

/**
 * NACKs the way a browser does, simplified: a forward gap makes its sequence numbers pending; every
 * NACK_INTERVAL_MS the pending ones not yet received (and not NACKed in the last NACK_RETRY_MS) are
 * NACKed, up to NACK_RETRIES times each.
 */
class TestNacker {
  sent = 0;
  readonly #pending = new Map<string, PendingNack>();

  onPacket(track: Track, stream: ReceivedStream, sequence: number): void {
    const now = performance.now();
    this.#pending.delete(`${stream.ssrc}:${sequence}`);
    // receive() already moved lastSequence: the gap is between the previous highest and this one.
    const gap = stream.gapBefore;
    for (let i = 1; i <= gap; i++) {
      const missing = (sequence - i) & 0xffff;
      if (this.#pending.size < 1000) {
        this.#pending.set(`${stream.ssrc}:${missing}`, {
          track,
          stream,
          sequence: missing,
          detectedAt: now,
          lastSentAt: 0,
          retries: 0,
        });
      }
    }
  }

  flush(): void {
    const now = performance.now();
    const due = new Map<number, { track: Track; sequences: number[] }>();
    for (const [key, entry] of this.#pending) {
      if (
        entry.stream.seen[entry.sequence] ||
        entry.retries >= NACK_RETRIES ||
        now - entry.detectedAt > 1000
      ) {
        this.#pending.delete(key);
        continue;
      }
      if (now - entry.lastSentAt < NACK_RETRY_MS) continue;
      entry.lastSentAt = now;
      entry.retries++;
      const batch = due.get(entry.stream.ssrc) ?? { track: entry.track, sequences: [] };
      batch.sequences.push(entry.sequence);
      due.set(entry.stream.ssrc, batch);
    }
    for (const [ssrc, { track, sequences }] of due) {
      if (track.isOpen() && track.sendMessageBinary(buildNack(ssrc, sequences, 0x5eed))) this.sent++;
    }
  }
}

/** A receiver's transport-cc feedback: every arrival recorded, reported every 50 ms. */
class FeedbackSender {
  readonly #recorder = new TwccRecorder();
  readonly #tracks: Map<string, Track>;
  readonly #ssrcs: Map<string, number>;
  readonly #timer: NodeJS.Timeout;
  #extensionId = 0;

  constructor(tracks: Map<string, Track>, ssrcs: Map<string, number>) {
    this.#tracks = tracks;
    this.#ssrcs = ssrcs;
    this.#timer = setInterval(
      guard('test feedback', () => this.#send()),
      50,
    );
    this.#timer.unref();
  }

  useOffer(offerSdp: string): void {
    const id = new RegExp(`^a=extmap:(\\d+) ${TRANSPORT_CC_URI}`, 'm').exec(offerSdp)?.[1];
    this.#extensionId = Number(id ?? 0);
  }

  onPacket(packet: Buffer): void {
    if (this.#extensionId === 0 || isRtcp(packet)) return;
    const element = findHeaderExtension(packet, this.#extensionId);
    if (element?.[1] !== 2) return;
    this.#recorder.record(packet.readUInt16BE(element[0]), performance.now() * 1000);
  }

  /**
   * Addressed to one of the SFU's SSRCs, as Chromium does: with several media sections
   * libdatachannel drops RTCP naming an SSRC it does not know.
   */
  #send(): void {
    const [mid, track] = [...this.#tracks].find(([, t]) => t.isOpen()) ?? [];
    if (!track || mid === undefined) return;
    for (const packet of this.#recorder.buildFeedback(this.#ssrcs.get(mid) ?? 0))
      track.sendMessageBinary(packet);
  }

  close(): void {
    clearInterval(this.#timer);
  }
}

function parseOfferedSsrcs(sdp: string): Map<string, number> {
  const result = new Map<string, number>();
  for (const section of sdp.split(/\r?\nm=/).slice(1)) {
    const mid = /a=mid:(\S+)/.exec(section)?.[1];
    const ssrc = /a=ssrc:(\d+)/.exec(section)?.[1];
    if (mid && ssrc) result.set(mid, Number(ssrc));
  }
  return result;
}

function receive(
  streams: Map<number, ReceivedStream>,
  mid: string,
  packet: Buffer,
  retransmission: boolean,
): ReceivedStream | null {
  if (isRtcp(packet) || packet.length < 12) return null;
  const ssrc = ssrcOf(packet);
  const sequence = sequenceOf(packet);
  const timestamp = timestampOf(packet);
  const now = performance.now();
  let stream = streams.get(ssrc);
  if (!stream) {
    stream = newStream(ssrc, mid, sequence, timestamp, now);
    streams.set(ssrc, stream);
  } else {
    trackContinuity(stream, sequence, timestamp);
  }
  if (!stream.seen[sequence]) {
    stream.seen[sequence] = 1;
    stream.uniquePackets++;
    // A packet behind the highest one filled a gap: the NACK worked (or the network reordered).
    if (retransmission || stream.gapBefore < 0) stream.retransmissions++;
  }
  stream.packets++;
  stream.bytes += packet.length;
  stream.payloadTypes.add(payloadTypeOf(packet));
  if (findHeaderExtension(packet, TEST_MID_EXTENSION_ID)) stream.midExtensions++;
  const offset = payloadOffsetOf(packet);
  if (offset > 0 && mid.length > 0 && isVideoPacket(packet) && isVp8KeyFrameStart(packet, offset)) {
    stream.keyFrames++;
    if (stream.firstKeyFrameAt === 0) stream.firstKeyFrameAt = now;
  }
  return stream;
}

/** The SFU offers VP8 as payload type 96 to subscribers. */
function isVideoPacket(packet: Buffer): boolean {
  return payloadTypeOf(packet) === VIDEO_PAYLOAD_TYPE;
}

function newStream(
  ssrc: number,
  mid: string,
  sequence: number,
  timestamp: number,
  now: number,
): ReceivedStream {
  return {
    ssrc,
    mid,
    packets: 0,
    bytes: 0,
    payloadTypes: new Set(),
    keyFrames: 0,
    sequenceGaps: 0,
    sequenceBackwards: 0,
    timestampBackwards: 0,
    largestTimestampStep: 0,
    midExtensions: 0,
    firstSequence: sequence,
    lastSequence: sequence,
    lastTimestamp: timestamp,
    firstPacketAt: now,
    firstKeyFrameAt: 0,
    uniquePackets: 0,
    retransmissions: 0,
    seen: new Uint8Array(0x10000),
    gapBefore: 0,
  };
}

function trackContinuity(stream: ReceivedStream, sequence: number, timestamp: number): void {
  const step = (sequence - stream.lastSequence) & 0xffff;
  if (step === 0 || step >= 0x8000) {
    stream.sequenceBackwards++;
    stream.gapBefore = -1;
    return;
  }
  stream.gapBefore = step - 1;
  stream.sequenceGaps += step - 1;
  // Forget the half of the sequence space behind us, so `seen` keeps working after a wrap.
  for (let i = 0; i < step; i++) stream.seen[(sequence - i + 0x8000) & 0xffff] = 0;
  const timestampStep = (timestamp - stream.lastTimestamp) >>> 0;
  if (timestampStep >= 0x80000000) stream.timestampBackwards++;
  else stream.largestTimestampStep = Math.max(stream.largestTimestampStep, timestampStep);
  stream.lastSequence = sequence;
  stream.lastTimestamp = timestamp;
}

export async function waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!predicate()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * node-datachannel keeps the process alive until its native side is cleaned up: a test file or
 * tool that used peers calls this once at the very end, after closing every connection (the
 * short wait lets pending close callbacks run first; cleanup() right after close() can abort).
 */
export async function releaseNodeDataChannel(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 100));
  try {
    nodeDataChannel.cleanup();
  } catch {
    // libdatachannel gives up after its own timeout on a loaded machine ("cleanup timeout
    // (possible deadlock)"); the connections are closed already and the process is ending.
  }
}
