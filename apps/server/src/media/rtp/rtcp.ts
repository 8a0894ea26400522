/**
 * RTCP the SFU reads and writes (RFC 3550, RFC 4585, RFC 5104). Parsing walks a compound packet
 * in place; builders return fresh small buffers (RTCP is rare next to RTP, a few per second).
 */
import { readU32, writeU32 } from './packet.ts';

export const RTCP_SR = 200;
export const RTCP_RR = 201;
export const RTCP_RTPFB = 205;
export const RTCP_PSFB = 206;
export const PSFB_PLI = 1;
export const PSFB_FIR = 4;

/** SSRC the SFU uses as sender of its own feedback (RFC 4585 allows any; 1 is what Janus uses). */
export const SFU_FEEDBACK_SSRC = 1;

/**
 * Calls `onKeyFrameRequest(mediaSsrc)` for every PLI and FIR in a compound RTCP packet. FIR carries
 * its target SSRCs in FCI entries (the media SSRC field is unused, RFC 5104 4.3.1).
 */
export function forEachKeyFrameRequest(
  packet: Uint8Array,
  onKeyFrameRequest: (mediaSsrc: number) => void,
): void {
  let offset = 0;
  while (offset + 4 <= packet.length) {
    const fmt = packet[offset]! & 0x1f;
    const type = packet[offset + 1]!;
    const bytes = (((packet[offset + 2]! << 8) | packet[offset + 3]!) + 1) * 4;
    if (packet[offset]! >> 6 !== 2 || offset + bytes > packet.length) return;
    if (type === RTCP_PSFB && fmt === PSFB_PLI && bytes >= 12) onKeyFrameRequest(readU32(packet, offset + 8));
    if (type === RTCP_PSFB && fmt === PSFB_FIR) {
      for (let fci = offset + 12; fci + 8 <= offset + bytes; fci += 8)
        onKeyFrameRequest(readU32(packet, fci));
    }
    offset += bytes;
  }
}

/** Walks a compound packet and returns the offset of its first sender report, or -1. */
export function findSenderReport(packet: Uint8Array): number {
  let offset = 0;
  while (offset + 4 <= packet.length) {
    const bytes = (((packet[offset + 2]! << 8) | packet[offset + 3]!) + 1) * 4;
    if (packet[offset]! >> 6 !== 2 || offset + bytes > packet.length) return -1;
    if (packet[offset + 1] === RTCP_SR && bytes >= 28) return offset;
    offset += bytes;
  }
  return -1;
}

export function buildPli(mediaSsrc: number, senderSsrc = SFU_FEEDBACK_SSRC): Buffer {
  const packet = Buffer.alloc(12);
  packet[0] = 0x80 | PSFB_PLI;
  packet[1] = RTCP_PSFB;
  packet[3] = 2;
  writeU32(packet, 4, senderSsrc);
  writeU32(packet, 8, mediaSsrc);
  return packet;
}

export function buildFir(mediaSsrc: number, sequence: number, senderSsrc = SFU_FEEDBACK_SSRC): Buffer {
  const packet = Buffer.alloc(20);
  packet[0] = 0x80 | PSFB_FIR;
  packet[1] = RTCP_PSFB;
  packet[3] = 4;
  writeU32(packet, 4, senderSsrc);
  writeU32(packet, 12, mediaSsrc);
  packet[16] = sequence & 0xff;
  return packet;
}

/**
 * A sender report (no report blocks) for a forwarded stream: the publisher's NTP time with the
 * RTP timestamp translated into the subscriber's timeline, so browsers can still sync audio and
 * video of one participant. Counters are the consumer's own.
 */
export function buildSenderReport(params: {
  ssrc: number;
  ntpHigh: number;
  ntpLow: number;
  rtpTimestamp: number;
  packetCount: number;
  octetCount: number;
}): Buffer {
  const packet = Buffer.alloc(28);
  packet[0] = 0x80;
  packet[1] = RTCP_SR;
  packet[3] = 6;
  writeU32(packet, 4, params.ssrc);
  writeU32(packet, 8, params.ntpHigh);
  writeU32(packet, 12, params.ntpLow);
  writeU32(packet, 16, params.rtpTimestamp);
  writeU32(packet, 20, params.packetCount >>> 0);
  writeU32(packet, 24, params.octetCount >>> 0);
  return packet;
}
