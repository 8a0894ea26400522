/**
 * What the SFU reads from an H.264 RTP payload (RFC 6184, packetization-mode 1): whether a packet
 * starts a keyframe, so a new consumer or a simulcast layer switch begins on a picture the browser
 * can decode. H.264 has no picture id to rewrite; only sequence numbers and timestamps are.
 *
 * A keyframe starts with its parameter sets or its IDR slice: a single NAL unit of type 5 (IDR) or
 * 7 (SPS); a STAP-A (24) aggregating one of those; or the first fragment (S bit) of an FU-A (28)
 * of one of those. Chromium sends SPS and PPS in a STAP-A ahead of every IDR, so the STAP-A is
 * what a switch starts on. Allocation-free; never reads past the packet.
 */
import type { Vp8Descriptor } from './codecs.ts';

export const NAL_IDR = 5;
export const NAL_SPS = 7;
export const NAL_STAP_A = 24;
export const NAL_FU_A = 28;

function startsKeyFrame(nalType: number): boolean {
  return nalType === NAL_IDR || nalType === NAL_SPS;
}

/** True when the H.264 payload at `offset` (up to `end`, default the packet's end) starts a keyframe. */
export function isH264KeyFrameStart(packet: Uint8Array, offset: number, end = packet.length): boolean {
  if (offset < 0 || offset >= end || end > packet.length) return false;
  const nalType = packet[offset]! & 0x1f;
  if (startsKeyFrame(nalType)) return true;
  if (nalType === NAL_FU_A) {
    if (offset + 1 >= end) return false;
    const fuHeader = packet[offset + 1]!;
    return (fuHeader & 0x80) !== 0 && startsKeyFrame(fuHeader & 0x1f);
  }
  if (nalType === NAL_STAP_A) {
    // Aggregated units: 2-byte size, then the NAL unit (its first byte is its header).
    let i = offset + 1;
    while (i + 2 < end) {
      const size = (packet[i]! << 8) | packet[i + 1]!;
      if (size === 0 || i + 2 + size > end) return false;
      if (startsKeyFrame(packet[i + 2]! & 0x1f)) return true;
      i += 2 + size;
    }
  }
  return false;
}

/**
 * Fills the producer's per-packet descriptor for an H.264 packet: keyframe start only, no picture
 * id or TL0PICIDX (the consumer then rewrites none).
 */
export function readH264Descriptor(packet: Uint8Array, offset: number, out: Vp8Descriptor): void {
  out.pictureId = -1;
  out.pictureIdAt = -1;
  out.pictureIdLong = false;
  out.tl0PicIdx = -1;
  out.tl0PicIdxAt = -1;
  out.keyFrameStart = isH264KeyFrameStart(packet, offset);
}
