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
}

export interface SendOptions {
  /** Video: packets per second (default 150, ~1,100 bytes each, 30 frames/s). Audio: 50. */
  packetsPerSecond?: number;
  /** Periodic keyframe interval for video (default 3,000 ms). 0: only on request. */
  keyFrameIntervalMs?: number;
}

export interface PublisherPeer {
  readonly kind: PeerKind;
  readonly ssrc: number;
  /** The offer to hand to the SFU (one sendonly media section). */
  readonly offer: string;
  setAnswer(answerSdp: string): Promise<void>;
  /** Starts sending synthetic RTP at a realistic rate until stop() or close(). */
  start(options?: SendOptions): void;
  stop(): void;
  /** Sends one frame now (video: its packets; audio: one packet). */
  sendFrame(keyFrame?: boolean): void;
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
  let offer = pc.localDescription()?.sdp ?? '';
  if (options.midExtension) {
    offer = offer.replace(/(a=mid:0\r?\n)/, `$1a=extmap:${TEST_MID_EXTENSION_ID} ${MID_EXTENSION_URI}\r\n`);
  }
  const sender = new SyntheticSender(track, kind, ssrc, payloadType, options.midExtension === true);
  track.onMessage(guard('test publisher rtcp', (message: Buffer) => sender.onRtcp(message)));
  return {
    kind,
    ssrc,
    offer,
    async setAnswer(answerSdp: string) {
      pc.setRemoteDescription(answerSdp, 'answer');
      await waitConnected(pc, onState);
      await waitOpen(track);
    },
    start: (sendOptions) => sender.start(sendOptions),
    stop: () => sender.stop(),
    sendFrame: (keyFrame) => sender.sendFrame(keyFrame === true),
    stats: sender.stats,
    async close() {
      sender.stop();
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
  readonly #midExtension: boolean;
  #sequence = randomInt(0, 0x10000);
  #timestamp = randomInt(0, 0xffffffff);
  #pictureId = randomInt(0, 0x8000);
  #timer: NodeJS.Timeout | null = null;
  #keyFrameWanted = true;
  #lastKeyFrameAt = 0;
  #packetsPerFrame = 5;
  #keyFrameIntervalMs = 3000;
  readonly #buffer = Buffer.alloc(1200);

  constructor(track: Track, kind: PeerKind, ssrc: number, payloadType: number, midExtension: boolean) {
    this.#track = track;
    this.#kind = kind;
    this.#ssrc = ssrc;
    this.#payloadType = payloadType;
    this.#midExtension = midExtension;
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
      this.#sendPacket(100, true, (payload) => payload.fill(0xfc, 0, 1));
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
      this.#sendPacket(1100, last, (payload) => this.#writeVp8(payload, i === 0, keyFrame));
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
    const headerLength = this.#midExtension ? 20 : 12;
    packet[0] = this.#midExtension ? 0x90 : 0x80;
    packet[1] = (marker ? 0x80 : 0) | this.#payloadType;
    packet.writeUInt16BE(this.#sequence, 2);
    writeU32(packet, 4, this.#timestamp);
    writeU32(packet, 8, this.#ssrc);
    if (this.#midExtension) {
      packet.set([0xbe, 0xde, 0x00, 0x02, (TEST_MID_EXTENSION_ID << 4) | 0, 0x30, 0, 0], 12); // mid "0"
    }
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
}

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
  close(): Promise<void>;
}

export async function createSubscriberPeer(options: { bindAddress?: string } = {}): Promise<SubscriberPeer> {
  const pc = peerConnection('test-sub', options.bindAddress ?? '127.0.0.1');
  const onState = stateFanOut(pc);
  const connected = waitConnected(pc, onState, 20_000);
  connected.catch(() => {});
  const streams = new Map<number, ReceivedStream>();
  const tracks = new Map<string, Track>();
  const offeredSsrcs = new Map<string, number>();
  let firSequence = 0;
  pc.onTrack(
    guard('test subscriber track', (track: Track) => {
      const mid = track.mid();
      tracks.set(mid, track);
      track.onMessage(guard('test subscriber media', (message: Buffer) => receive(streams, mid, message)));
    }),
  );
  const trackFor = (mid: string): Track => {
    const track = tracks.get(mid);
    if (!track) throw new Error(`no track for mid ${mid}`);
    return track;
  };
  return {
    async answer(offerSdp: string) {
      for (const [mid, ssrc] of parseOfferedSsrcs(offerSdp)) offeredSsrcs.set(mid, ssrc);
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
    close: () => closePeer(pc),
  };
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

function receive(streams: Map<number, ReceivedStream>, mid: string, packet: Buffer): void {
  if (isRtcp(packet) || packet.length < 12) return;
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
  stream.packets++;
  stream.bytes += packet.length;
  stream.payloadTypes.add(payloadTypeOf(packet));
  if (findHeaderExtension(packet, TEST_MID_EXTENSION_ID)) stream.midExtensions++;
  const offset = payloadOffsetOf(packet);
  if (offset > 0 && mid.length > 0 && isVideoPacket(packet) && isVp8KeyFrameStart(packet, offset)) {
    stream.keyFrames++;
    if (stream.firstKeyFrameAt === 0) stream.firstKeyFrameAt = now;
  }
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
  };
}

function trackContinuity(stream: ReceivedStream, sequence: number, timestamp: number): void {
  const step = (sequence - stream.lastSequence) & 0xffff;
  if (step === 0 || step >= 0x8000) {
    stream.sequenceBackwards++;
    return;
  }
  stream.sequenceGaps += step - 1;
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
