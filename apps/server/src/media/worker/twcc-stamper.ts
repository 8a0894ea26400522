/**
 * Transport-wide sequence numbers on everything a subscriber connection sends, so the browser's
 * transport-cc feedback tells the SFU when each packet arrived (downlink-estimator.ts turns that
 * into the subscriber's bandwidth estimate).
 *
 * The numbers count the subscriber connection, not the publisher's: every forwarded packet gets
 * the next one. When the publisher's packet carries its own transport-cc element (Chromium always
 * sends it where negotiated), the producer has padded it out and the stamper writes the element
 * back in the same place with the subscriber's id and number: no copy. A packet without one gets
 * the element inserted in a scratch buffer owned by the stamper (one copy, no allocation).
 *
 * Send time and size of every number are kept in a ring, read back when feedback arrives.
 */
import { RTP_HEADER_BYTES } from '../rtp/packet.ts';

/** Extension id the SFU offers subscribers for transport-wide sequence numbers (sdp.ts). */
export const SUBSCRIBER_TRANSPORT_CC_ID = 5;

/** Packets remembered: ~27 s of a 300 packets/s connection, far more than any feedback delay. */
const RING_SIZE = 8192;
const RING_MASK = RING_SIZE - 1;
/** The scratch buffer holds any packet node-datachannel can send, plus the inserted element. */
const SCRATCH_BYTES = 2048;

/** Where the publisher's own transport-cc element sits in a packet, read once by the producer. */
export interface TwccSlot {
  /** Offset of the 2-byte value, -1 when the packet has no transport-cc element. */
  twccAt: number;
  /** 1 for the one-byte header form (RFC 8285), 2 for the two-byte form. */
  twccHeaderBytes: number;
}

export class TwccStamper {
  /** False until the subscriber's answer accepted transport-cc: nothing is stamped before. */
  enabled = false;
  /** Next transport-wide sequence number, unwrapped (the wire carries its low 16 bits). */
  #next = 0;
  readonly #sentAt = new Float64Array(RING_SIZE);
  readonly #size = new Uint16Array(RING_SIZE);
  /** Unwrapped sequence number each ring slot holds (-1: empty). */
  readonly #sequence = new Float64Array(RING_SIZE).fill(-1);
  readonly #scratch = Buffer.alloc(SCRATCH_BYTES);
  /** Packets sent with a number (for stats and tests). */
  stamped = 0;

  /**
   * Packet path: gives `packet` the next sequence number and returns the bytes to send (the packet
   * itself, or the scratch buffer when the element had to be inserted). Call `sent()` after the
   * send succeeded.
   */
  stamp(packet: Buffer, slot: TwccSlot): Buffer {
    if (!this.enabled) return packet;
    const sequence = this.#next & 0xffff;
    if (slot.twccAt >= 0) {
      writeElement(packet, slot.twccAt, slot.twccHeaderBytes, sequence);
      return packet;
    }
    return this.#insert(packet, sequence);
  }

  /** Unwrapped number the next packet will get. */
  get nextSequence(): number {
    return this.#next;
  }

  /** Records the send of the packet `stamp()` just numbered. */
  sent(bytes: number, nowMs: number): void {
    if (!this.enabled) return;
    const index = this.#next & RING_MASK;
    this.#sequence[index] = this.#next;
    this.#sentAt[index] = nowMs;
    this.#size[index] = Math.min(bytes, 0xffff);
    this.#next++;
    this.stamped++;
  }

  /**
   * Unwrapped number of a 16-bit sequence number reported by feedback, or -1 when it is not one
   * of the packets still remembered.
   */
  unwrap(sequence: number): number {
    const latest = this.#next - 1;
    if (latest < 0) return -1;
    const behind = (latest - sequence) & 0xffff;
    const unwrapped = latest - behind;
    if (unwrapped < 0 || this.#sequence[unwrapped & RING_MASK] !== unwrapped) return -1;
    return unwrapped;
  }

  /** Send time (performance.now() ms) of an unwrapped number from `unwrap()`. */
  sentAt(unwrapped: number): number {
    return this.#sentAt[unwrapped & RING_MASK]!;
  }

  sizeOf(unwrapped: number): number {
    return this.#size[unwrapped & RING_MASK]!;
  }

  /**
   * Copies the packet into the scratch buffer with a transport-cc element added: a new one-byte
   * extension block when it has none, otherwise one more 32-bit word at the end of its block.
   * An extension block of an unknown profile is left alone (the packet goes out unnumbered).
   */
  #insert(packet: Buffer, sequence: number): Buffer {
    if (packet.length + 8 > SCRATCH_BYTES) return packet;
    const out = this.#scratch;
    const headerEnd = RTP_HEADER_BYTES + (packet[0]! & 0x0f) * 4;
    if (headerEnd > packet.length) return packet;
    if (!(packet[0]! & 0x10)) {
      packet.copy(out, 0, 0, headerEnd);
      out[0] = out[0]! | 0x10;
      out[headerEnd] = 0xbe;
      out[headerEnd + 1] = 0xde;
      out[headerEnd + 2] = 0;
      out[headerEnd + 3] = 1;
      writeNewElement(out, headerEnd + 4, 1, sequence);
      packet.copy(out, headerEnd + 8, headerEnd);
      return out.subarray(0, packet.length + 8);
    }
    if (headerEnd + 4 > packet.length) return packet;
    const profile = (packet[headerEnd]! << 8) | packet[headerEnd + 1]!;
    const twoByte = (profile & 0xfff0) === 0x1000;
    if (!twoByte && profile !== 0xbede) return packet;
    const words = (packet[headerEnd + 2]! << 8) | packet[headerEnd + 3]!;
    const extensionEnd = headerEnd + 4 + words * 4;
    if (extensionEnd > packet.length || words === 0xffff) return packet;
    packet.copy(out, 0, 0, extensionEnd);
    out[headerEnd + 2] = ((words + 1) >> 8) & 0xff;
    out[headerEnd + 3] = (words + 1) & 0xff;
    writeNewElement(out, extensionEnd, twoByte ? 2 : 1, sequence);
    packet.copy(out, extensionEnd + 4, extensionEnd);
    return out.subarray(0, packet.length + 4);
  }
}

/** Writes the element header and value over a padded-out transport-cc element. */
function writeElement(packet: Buffer, valueAt: number, headerBytes: number, sequence: number): void {
  if (headerBytes === 1) packet[valueAt - 1] = (SUBSCRIBER_TRANSPORT_CC_ID << 4) | 1;
  else {
    packet[valueAt - 2] = SUBSCRIBER_TRANSPORT_CC_ID;
    packet[valueAt - 1] = 2;
  }
  packet[valueAt] = sequence >> 8;
  packet[valueAt + 1] = sequence & 0xff;
}

/** A new element in a fresh 4-byte word: header, 2-byte value, padding to the word's end. */
function writeNewElement(out: Buffer, at: number, headerBytes: number, sequence: number): void {
  out.fill(0, at, at + 4);
  writeElement(out, at + headerBytes, headerBytes, sequence);
}
