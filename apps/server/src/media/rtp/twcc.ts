/**
 * Transport-wide congestion control feedback (draft-holmer-rmcat-transport-wide-cc-extensions-01):
 * the receiver tells the sender when every packet of the connection arrived, and the sender's
 * delay-based estimator (Chromium's GoogCC) turns that into its uplink estimate. Without this
 * feedback a browser that negotiated transport-cc decays to ~30 kbps (MEDIA-NOTES).
 *
 * Wire format (RTPFB, FMT 15), after the common 12-byte feedback header:
 *   base sequence (16) | packet status count (16) | reference time (24, x64 ms) | fb pkt count (8)
 *   packet chunks (16 bits each), then receive deltas (1 byte small, 2 bytes large, x250 us),
 *   padded to 32 bits.
 */
import { readU32, writeU32 } from './packet.ts';
import { RTCP_RTPFB, SFU_FEEDBACK_SSRC } from './rtcp.ts';

export const TRANSPORT_CC_URI = 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01';
export const RTPFB_TRANSPORT_CC = 15;

/** Packet status symbols. */
export const NOT_RECEIVED = 0;
export const SMALL_DELTA = 1;
export const LARGE_DELTA = 2;

const DELTA_UNIT_US = 250;
const REFERENCE_UNIT_US = 64_000;
/** Largest/smallest delta a 2-byte signed receive delta can carry, in 250 us units. */
const MAX_LARGE_DELTA = 0x7fff;
const MIN_LARGE_DELTA = -0x8000;
/** Status count per feedback packet: keeps a packet well under the MTU (<= ~1,100 bytes). */
export const MAX_STATUSES_PER_FEEDBACK = 400;

export interface FeedbackPacketStatus {
  /** Transport-wide sequence number (16 bits). */
  sequence: number;
  /** Receive delta in microseconds (multiple of 250) from the previous received packet, or null if lost. */
  deltaUs: number | null;
}

export interface TransportFeedback {
  senderSsrc: number;
  mediaSsrc: number;
  baseSequence: number;
  /** Reference time in 64 ms units (24-bit signed). */
  referenceTime: number;
  feedbackCount: number;
  packets: FeedbackPacketStatus[];
}

function symbolOf(delta: number | null): number {
  if (delta === null) return NOT_RECEIVED;
  return delta >= 0 && delta <= 255 ? SMALL_DELTA : LARGE_DELTA;
}

/**
 * Encodes statuses as chunks: a run-length chunk for 7+ equal symbols (longer runs compress
 * best), otherwise a status vector of 14 one-bit or 7 two-bit symbols.
 */
function encodeChunks(symbols: Uint8Array, count: number): number[] {
  const chunks: number[] = [];
  let i = 0;
  while (i < count) {
    let run = 1;
    while (i + run < count && symbols[i + run] === symbols[i] && run < 0x1fff) run++;
    if (run >= 7 || i + run === count) {
      chunks.push((symbols[i]! << 13) | run);
      i += run;
      continue;
    }
    let needsTwoBits = false;
    for (let j = i; j < Math.min(i + 14, count); j++) if (symbols[j] === LARGE_DELTA) needsTwoBits = true;
    // A one-bit vector only fits 14 symbols if none is a large delta among them; a large delta
    // within the first 7 forces the two-bit form.
    if (!needsTwoBits) {
      let chunk = 0x8000;
      for (let k = 0; k < 14; k++) chunk |= (i + k < count ? symbols[i + k]! : 0) << (13 - k);
      chunks.push(chunk);
      i += 14;
    } else {
      let chunk = 0xc000;
      for (let k = 0; k < 7; k++) chunk |= (i + k < count ? symbols[i + k]! : 0) << (12 - 2 * k);
      chunks.push(chunk);
      i += 7;
    }
  }
  return chunks;
}

/** Builds one transport-cc feedback packet. Deltas are in 250 us units (see FeedbackPacketStatus). */
export function buildTransportFeedback(feedback: TransportFeedback): Buffer {
  const count = feedback.packets.length;
  const symbols = new Uint8Array(count);
  let deltaBytes = 0;
  for (let i = 0; i < count; i++) {
    const delta = feedback.packets[i]!.deltaUs;
    const units = delta === null ? null : Math.round(delta / DELTA_UNIT_US);
    symbols[i] = symbolOf(units);
    deltaBytes += symbols[i] === SMALL_DELTA ? 1 : symbols[i] === LARGE_DELTA ? 2 : 0;
  }
  const chunks = encodeChunks(symbols, count);
  const unpadded = 20 + chunks.length * 2 + deltaBytes;
  const bytes = Math.ceil(unpadded / 4) * 4;
  const packet = Buffer.alloc(bytes);
  const padding = bytes - unpadded;
  packet[0] = 0x80 | (padding > 0 ? 0x20 : 0) | RTPFB_TRANSPORT_CC;
  packet[1] = RTCP_RTPFB;
  packet.writeUInt16BE(bytes / 4 - 1, 2);
  writeU32(packet, 4, feedback.senderSsrc);
  writeU32(packet, 8, feedback.mediaSsrc);
  packet.writeUInt16BE(feedback.baseSequence & 0xffff, 12);
  packet.writeUInt16BE(count, 14);
  const reference = feedback.referenceTime & 0xffffff;
  packet[16] = reference >>> 16;
  packet[17] = (reference >>> 8) & 0xff;
  packet[18] = reference & 0xff;
  packet[19] = feedback.feedbackCount & 0xff;
  let offset = 20;
  for (const chunk of chunks) {
    packet.writeUInt16BE(chunk, offset);
    offset += 2;
  }
  for (let i = 0; i < count; i++) {
    const delta = feedback.packets[i]!.deltaUs;
    if (delta === null) continue;
    const units = Math.round(delta / DELTA_UNIT_US);
    if (symbols[i] === SMALL_DELTA) packet[offset++] = units;
    else {
      packet.writeInt16BE(units, offset);
      offset += 2;
    }
  }
  if (padding > 0) packet[bytes - 1] = padding;
  return packet;
}

/**
 * Parses one transport-cc feedback packet at `offset` of a compound packet, or returns null when
 * it is malformed (truncated chunks or deltas, reserved symbols). Used for subscribers' feedback
 * and to check what the builder writes.
 */
export function parseTransportFeedback(packet: Uint8Array, offset = 0): TransportFeedback | null {
  if (offset + 20 > packet.length) return null;
  const fmt = packet[offset]! & 0x1f;
  if (packet[offset + 1] !== RTCP_RTPFB || fmt !== RTPFB_TRANSPORT_CC) return null;
  const bytes = (((packet[offset + 2]! << 8) | packet[offset + 3]!) + 1) * 4;
  const end = offset + bytes;
  if (end > packet.length) return null;
  const baseSequence = (packet[offset + 12]! << 8) | packet[offset + 13]!;
  const count = (packet[offset + 14]! << 8) | packet[offset + 15]!;
  let referenceTime = (packet[offset + 16]! << 16) | (packet[offset + 17]! << 8) | packet[offset + 18]!;
  if (referenceTime & 0x800000) referenceTime -= 0x1000000;
  const symbols = new Uint8Array(count);
  let filled = 0;
  let at = offset + 20;
  while (filled < count) {
    if (at + 2 > end) return null;
    const chunk = (packet[at]! << 8) | packet[at + 1]!;
    at += 2;
    filled = decodeChunk(chunk, symbols, filled, count);
    if (filled < 0) return null;
  }
  const packets: FeedbackPacketStatus[] = [];
  for (let i = 0; i < count; i++) {
    const symbol = symbols[i]!;
    let deltaUs: number | null = null;
    if (symbol === SMALL_DELTA) {
      if (at + 1 > end) return null;
      deltaUs = packet[at]! * DELTA_UNIT_US;
      at += 1;
    } else if (symbol === LARGE_DELTA) {
      if (at + 2 > end) return null;
      const raw = (packet[at]! << 8) | packet[at + 1]!;
      deltaUs = (raw & 0x8000 ? raw - 0x10000 : raw) * DELTA_UNIT_US;
      at += 2;
    }
    packets.push({ sequence: (baseSequence + i) & 0xffff, deltaUs });
  }
  return {
    senderSsrc: readU32(packet, offset + 4),
    mediaSsrc: readU32(packet, offset + 8),
    baseSequence,
    referenceTime,
    feedbackCount: packet[offset + 19]!,
    packets,
  };
}

/** Writes the symbols of one chunk from `filled`; returns the new fill, or -1 for a reserved symbol. */
function decodeChunk(chunk: number, symbols: Uint8Array, filled: number, count: number): number {
  if ((chunk & 0x8000) === 0) {
    const symbol = (chunk >> 13) & 0x03;
    if (symbol === 3) return -1;
    const run = chunk & 0x1fff;
    const last = Math.min(count, filled + run);
    symbols.fill(symbol, filled, last);
    return last;
  }
  const twoBit = (chunk & 0x4000) !== 0;
  const slots = twoBit ? 7 : 14;
  let i = filled;
  for (let k = 0; k < slots && i < count; k++, i++) {
    const symbol = twoBit ? (chunk >> (12 - 2 * k)) & 0x03 : (chunk >> (13 - k)) & 0x01;
    if (symbol === 3) return -1;
    symbols[i] = symbol;
  }
  return i;
}

const RING_SIZE = 8192;
const RING_MASK = RING_SIZE - 1;
/** A packet that arrives this far behind the reported window is not worth re-reporting. */
const MAX_REORDER = 256;

/**
 * Records the arrival of every packet of one publisher connection by transport-wide sequence
 * number, and builds the periodic feedback. Allocation-free on the packet path: arrival times live
 * in a ring indexed by the unwrapped sequence number.
 */
export class TwccRecorder {
  readonly #arrivalUs = new Float64Array(RING_SIZE);
  /** Unwrapped sequence number stored in each ring slot (-1: empty). */
  readonly #slotSequence = new Float64Array(RING_SIZE).fill(-1);
  /** Highest unwrapped sequence seen; -1 before the first packet. */
  #highest = -1;
  /** First unwrapped sequence the next feedback reports. */
  #nextBase = -1;
  #feedbackCount = 0;
  /** Sequence numbers lost in the feedback just built (NACK candidates), as 16-bit values. */
  readonly lost: number[] = [];

  /** Records one packet's transport-wide sequence number (16 bits) and arrival time (us). */
  record(sequence: number, arrivalUs: number): void {
    const unwrapped = this.#unwrap(sequence);
    if (unwrapped < 0) return;
    const slot = unwrapped & RING_MASK;
    this.#slotSequence[slot] = unwrapped;
    this.#arrivalUs[slot] = arrivalUs;
    if (unwrapped > this.#highest) this.#highest = unwrapped;
    if (this.#nextBase < 0) this.#nextBase = unwrapped;
    // A late packet from before the window: report from it again (libwebrtc does the same).
    else if (unwrapped < this.#nextBase && this.#nextBase - unwrapped <= MAX_REORDER)
      this.#nextBase = unwrapped;
  }

  #unwrap(sequence: number): number {
    if (this.#highest < 0) return sequence;
    const delta = ((sequence - this.#highest + 0x8000) & 0xffff) - 0x8000;
    const unwrapped = this.#highest + delta;
    return unwrapped < this.#highest - RING_SIZE / 2 ? -1 : unwrapped;
  }

  /**
   * Feedback packets for everything since the last call (empty when nothing new arrived). More
   * than one when the window is long or an arrival gap does not fit a 2-byte delta.
   */
  buildFeedback(mediaSsrc: number): Buffer[] {
    this.lost.length = 0;
    const out: Buffer[] = [];
    while (this.#nextBase >= 0 && this.#nextBase <= this.#highest) {
      const built = this.#buildOne(mediaSsrc);
      if (!built) break;
      out.push(built);
    }
    return out;
  }

  #received(unwrapped: number): boolean {
    return this.#slotSequence[unwrapped & RING_MASK] === unwrapped;
  }

  #buildOne(mediaSsrc: number): Buffer | null {
    let base = this.#nextBase;
    // A window longer than the ring lost its oldest entries: start where the ring still knows.
    if (this.#highest - base >= RING_SIZE) base = this.#highest - RING_SIZE + 1;
    while (base <= this.#highest && !this.#received(base)) base++; // feedback starts on a received packet
    if (base > this.#highest) return null;
    const firstArrival = this.#arrivalUs[base & RING_MASK]!;
    const referenceTime = Math.floor(firstArrival / REFERENCE_UNIT_US);
    let previous = referenceTime * REFERENCE_UNIT_US;
    const packets: FeedbackPacketStatus[] = [];
    let sequence = base;
    for (; sequence <= this.#highest && packets.length < MAX_STATUSES_PER_FEEDBACK; sequence++) {
      if (!this.#received(sequence)) {
        packets.push({ sequence: sequence & 0xffff, deltaUs: null });
        this.lost.push(sequence & 0xffff);
        continue;
      }
      const units = Math.round((this.#arrivalUs[sequence & RING_MASK]! - previous) / DELTA_UNIT_US);
      if (units > MAX_LARGE_DELTA || units < MIN_LARGE_DELTA) break; // next packet starts a new reference
      packets.push({ sequence: sequence & 0xffff, deltaUs: units * DELTA_UNIT_US });
      previous += units * DELTA_UNIT_US; // quantized, so rounding errors never accumulate
    }
    // Trailing losses are not reported yet: the packets may still be on their way.
    while (packets.length > 0 && packets[packets.length - 1]!.deltaUs === null) {
      packets.pop();
      this.lost.pop();
      sequence--;
    }
    this.#nextBase = sequence;
    const feedbackCount = this.#feedbackCount;
    this.#feedbackCount = (this.#feedbackCount + 1) & 0xff;
    return buildTransportFeedback({
      senderSsrc: SFU_FEEDBACK_SSRC,
      mediaSsrc,
      baseSequence: base & 0xffff,
      referenceTime,
      feedbackCount,
      packets,
    });
  }
}
