/**
 * Generic NACK (RFC 4585 6.2.1) and RTX (RFC 4588) on raw buffers. Parsing walks a compound RTCP
 * packet in place; the RTX helpers write into caller-owned buffers so the retransmission path
 * allocates nothing.
 */
import { payloadOffsetOf, readU32, writeU32 } from './packet.ts';
import { RTCP_RTPFB, SFU_FEEDBACK_SSRC } from './rtcp.ts';

export const RTPFB_NACK = 1;

/** Sequence numbers one FCI entry can carry: its PID and the 16 that follow (BLP bitmask). */
const SEQUENCES_PER_ENTRY = 17;

/**
 * Calls `onLost(mediaSsrc, sequence)` for every sequence number a generic NACK in the compound
 * packet asks for. A malformed packet stops the walk where it breaks; nothing throws.
 */
export function forEachNackedSequence(
  packet: Uint8Array,
  onLost: (mediaSsrc: number, sequence: number) => void,
): void {
  let offset = 0;
  while (offset + 4 <= packet.length) {
    const bytes = (((packet[offset + 2]! << 8) | packet[offset + 3]!) + 1) * 4;
    if (packet[offset]! >> 6 !== 2 || offset + bytes > packet.length) return;
    if (packet[offset + 1] === RTCP_RTPFB && (packet[offset]! & 0x1f) === RTPFB_NACK && bytes >= 12) {
      const mediaSsrc = readU32(packet, offset + 8);
      for (let fci = offset + 12; fci + 4 <= offset + bytes; fci += 4) {
        const pid = (packet[fci]! << 8) | packet[fci + 1]!;
        const blp = (packet[fci + 2]! << 8) | packet[fci + 3]!;
        onLost(mediaSsrc, pid);
        for (let bit = 0; bit < 16; bit++) if (blp & (1 << bit)) onLost(mediaSsrc, (pid + bit + 1) & 0xffff);
      }
    }
    offset += bytes;
  }
}

/**
 * A generic NACK for `sequences` of `mediaSsrc` (any order; duplicates are harmless). Sequences
 * within 16 of an entry's PID share its entry, so a burst of losses costs one 4-byte entry.
 */
export function buildNack(
  mediaSsrc: number,
  sequences: readonly number[],
  senderSsrc = SFU_FEEDBACK_SSRC,
): Buffer {
  const sorted = [...new Set(sequences.map((s) => s & 0xffff))].sort((a, b) => a - b);
  const entries: [number, number][] = [];
  for (const sequence of sorted) {
    const last = entries[entries.length - 1];
    const distance = last ? (sequence - last[0]) & 0xffff : 0;
    if (last && distance >= 1 && distance < SEQUENCES_PER_ENTRY) last[1] |= 1 << (distance - 1);
    else entries.push([sequence, 0]);
  }
  const packet = Buffer.alloc(12 + entries.length * 4);
  packet[0] = 0x80 | RTPFB_NACK;
  packet[1] = RTCP_RTPFB;
  packet.writeUInt16BE(packet.length / 4 - 1, 2);
  writeU32(packet, 4, senderSsrc);
  writeU32(packet, 8, mediaSsrc);
  entries.forEach(([pid, blp], i) => {
    packet.writeUInt16BE(pid, 12 + i * 4);
    packet.writeUInt16BE(blp, 14 + i * 4);
  });
  return packet;
}

/** Bytes of RTP padding at the end (P bit), or -1 when the count is impossible. */
function paddingOf(packet: Uint8Array, headerLength: number): number {
  if (!(packet[0]! & 0x20)) return 0;
  const padding = packet[packet.length - 1]!;
  return padding === 0 || headerLength + padding > packet.length ? -1 : padding;
}

/**
 * Wraps the media packet `source` as RTX into `out` (RFC 4588 4): same header with the RTX
 * payload type, SSRC and sequence number, then the original sequence number (OSN), then the
 * original payload. Returns the RTX packet (a view of `out`), or null when it does not fit.
 */
export function wrapRtx(
  source: Uint8Array,
  out: Buffer,
  rtx: { payloadType: number; ssrc: number; sequence: number },
): Buffer | null {
  const headerLength = payloadOffsetOf(source);
  if (headerLength < 0 || source.length + 2 > out.length) return null;
  out.set(source.subarray(0, headerLength), 0);
  out[headerLength] = source[2]!;
  out[headerLength + 1] = source[3]!;
  out.set(source.subarray(headerLength), headerLength + 2);
  out[1] = (out[1]! & 0x80) | (rtx.payloadType & 0x7f);
  out[2] = (rtx.sequence >>> 8) & 0xff;
  out[3] = rtx.sequence & 0xff;
  writeU32(out, 8, rtx.ssrc);
  return out.subarray(0, source.length + 2);
}

/**
 * Restores the media packet carried by the RTX packet `rtx` into `out`: media payload type and
 * SSRC, the OSN as sequence number, the payload without the OSN. Returns the restored packet (a
 * view of `out`), or null for padding-only RTX (bandwidth probes) or a malformed packet.
 */
export function unwrapRtx(
  rtx: Uint8Array,
  out: Buffer,
  media: { payloadType: number; ssrc: number },
): Buffer | null {
  const headerLength = payloadOffsetOf(rtx);
  if (headerLength < 0) return null;
  const padding = paddingOf(rtx, headerLength);
  if (padding < 0 || rtx.length - padding - headerLength < 3 || rtx.length - 2 > out.length) return null;
  out.set(rtx.subarray(0, headerLength), 0);
  out.set(rtx.subarray(headerLength + 2), headerLength);
  out[1] = (out[1]! & 0x80) | (media.payloadType & 0x7f);
  out[2] = rtx[headerLength]!;
  out[3] = rtx[headerLength + 1]!;
  writeU32(out, 8, media.ssrc);
  return out.subarray(0, rtx.length - 2);
}
