/**
 * Answers one consumer slot's NACKs from its producer's packet cache.
 *
 * The slot rewrites sequence numbers, timestamps and VP8 picture ids, and the offsets change on
 * every layer or producer switch, so a NACKed sequence number cannot be mapped back from the
 * current offsets: the slot records, per outgoing sequence number, where the packet came from and
 * which offsets it was sent with (a ring of SENT_HISTORY_SIZE entries, typed arrays, written once
 * per forwarded packet). A retransmission is that source packet from the cache, rewritten the same
 * way, sent as RTX when the subscriber negotiated it (its own SSRC and sequence numbers, the
 * original sequence number in the first two payload bytes) and otherwise as the same packet again.
 *
 * Limits, so a NACK flood cannot turn the SFU into an amplifier: each forwarded packet is sent again
 * at most MAX_RETRANSMISSIONS_PER_PACKET times, and a slot retransmits at most
 * RETRANSMISSIONS_PER_SECOND packets per second (a token bucket holding one second's worth). On
 * a congested downlink the connection's RetransmissionBudget limits them further.
 */
import {
  emptyVp8Descriptor,
  readVp8Descriptor,
  type Vp8Descriptor,
  writeVp8PictureId,
} from '../rtp/codecs.ts';
import { wrapRtx } from '../rtp/nack.ts';
import {
  payloadOffsetOf,
  setPayloadType,
  setSequence,
  setSsrc,
  setTimestamp,
  timestampOf,
} from '../rtp/packet.ts';
import { PACKET_CACHE_SLOT_BYTES, type PacketCache } from './packet-cache.ts';
import type { RetransmissionBudget } from './retransmission-budget.ts';

/** Outgoing packets remembered per slot: above the cache's reach (512 per layer, 1 s). */
export const SENT_HISTORY_SIZE = 1024;
export const MAX_RETRANSMISSIONS_PER_PACKET = 3;
/** Twice the retransmissions of a 2.5 Mbit/s layer at 20% loss. */
export const RETRANSMISSIONS_PER_SECOND = 200;

const HISTORY_MASK = SENT_HISTORY_SIZE - 1;

export class NackResponder {
  /** RTX payload type and SSRC toward the subscriber; null: plain retransmissions. */
  rtx: { payloadType: number; ssrc: number } | null = null;
  retransmitted = 0;
  /** NACKed packets not sent again: unknown, too old, retransmitted enough, or over the rate. */
  refused = 0;
  readonly #outSequence = new Int32Array(SENT_HISTORY_SIZE).fill(-1);
  readonly #layer = new Uint8Array(SENT_HISTORY_SIZE);
  readonly #sourceSequence = new Uint16Array(SENT_HISTORY_SIZE);
  readonly #timestampOffset = new Uint32Array(SENT_HISTORY_SIZE);
  readonly #pictureIdOffset = new Uint16Array(SENT_HISTORY_SIZE);
  readonly #tl0PicIdxOffset = new Uint8Array(SENT_HISTORY_SIZE);
  readonly #retransmissions = new Uint8Array(SENT_HISTORY_SIZE);
  readonly #copy = Buffer.alloc(PACKET_CACHE_SLOT_BYTES);
  readonly #rtxPacket = Buffer.alloc(PACKET_CACHE_SLOT_BYTES + 2);
  readonly #vp8: Vp8Descriptor = emptyVp8Descriptor();
  #rtxSequence = (Math.random() * 0x10000) | 0;
  #tokens = RETRANSMISSIONS_PER_SECOND;
  #refilledAt = 0;

  /** Packet path: one forwarded packet and the offsets it was rewritten with (positional: no allocation). */
  recordSent(
    outSequence: number,
    layer: number,
    sourceSequence: number,
    timestampOffset: number,
    pictureIdOffset: number,
    tl0PicIdxOffset: number,
  ): void {
    const i = outSequence & HISTORY_MASK;
    this.#outSequence[i] = outSequence;
    this.#layer[i] = layer;
    this.#sourceSequence[i] = sourceSequence;
    this.#timestampOffset[i] = timestampOffset;
    this.#pictureIdOffset[i] = pictureIdOffset;
    this.#tl0PicIdxOffset[i] = tl0PicIdxOffset;
    this.#retransmissions[i] = 0;
  }

  /** The slot now carries another producer: its history points into the old producer's cache. */
  reset(): void {
    this.#outSequence.fill(-1);
  }

  /**
   * The packet to send for a NACK of `outSequence` (a view of an internal buffer, valid until the
   * next call), or null when it cannot or should not be sent again.
   */
  retransmission(
    outSequence: number,
    cache: PacketCache,
    slot: { ssrc: number; payloadType: number; vp8: boolean; currentLayer: number },
    budget: RetransmissionBudget,
    now: number,
  ): Buffer | null {
    const i = outSequence & HISTORY_MASK;
    if (
      this.#outSequence[i] !== outSequence ||
      this.#retransmissions[i]! >= MAX_RETRANSMISSIONS_PER_PACKET ||
      // The slot switched layers since: the decoder goes on from the new layer's keyframe and has
      // no use for the old layer's packets (after a switch down under congestion they are most of
      // the NACKs, and would spend the retransmission budget the new layer's losses need).
      this.#layer[i] !== slot.currentLayer
    ) {
      this.refused++;
      return null;
    }
    const source = cache.find(this.#layer[i]!, this.#sourceSequence[i]!, now);
    if (!source || !this.#takeToken(now) || !budget.take(source.length, now)) {
      this.refused++;
      return null;
    }
    this.#retransmissions[i]!++;
    const packet = this.#copy.subarray(0, source.length);
    packet.set(source);
    setSequence(packet, outSequence);
    setTimestamp(packet, (timestampOf(packet) + this.#timestampOffset[i]!) >>> 0);
    setSsrc(packet, slot.ssrc);
    setPayloadType(packet, slot.payloadType);
    if (slot.vp8) this.#rewriteVp8(packet, i);
    this.retransmitted++;
    if (!this.rtx) return packet;
    const sequence = this.#rtxSequence;
    this.#rtxSequence = (sequence + 1) & 0xffff;
    return wrapRtx(packet, this.#rtxPacket, { ...this.rtx, sequence });
  }

  #rewriteVp8(packet: Buffer, i: number): void {
    const offset = payloadOffsetOf(packet);
    if (offset < 0) return;
    const vp8 = this.#vp8;
    readVp8Descriptor(packet, offset, vp8);
    if (vp8.pictureId >= 0) {
      const mask = vp8.pictureIdLong ? 0x7fff : 0x7f;
      writeVp8PictureId(packet, vp8, (vp8.pictureId + this.#pictureIdOffset[i]!) & mask);
    }
    if (vp8.tl0PicIdxAt >= 0) packet[vp8.tl0PicIdxAt] = (vp8.tl0PicIdx + this.#tl0PicIdxOffset[i]!) & 0xff;
  }

  #takeToken(now: number): boolean {
    const elapsed = now - this.#refilledAt;
    this.#refilledAt = now;
    this.#tokens = Math.min(
      RETRANSMISSIONS_PER_SECOND,
      this.#tokens + (elapsed * RETRANSMISSIONS_PER_SECOND) / 1000,
    );
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
