/**
 * What the SFU knows about the codecs it forwards: clock rates and how to spot a keyframe start,
 * so a new consumer starts on a picture the browser can decode.
 */
export type CodecName = 'VP8' | 'opus';

export interface CodecInfo {
  name: CodecName;
  kind: 'audio' | 'video';
  clockRate: number;
  /** Payload type the SFU offers to subscribers for this codec. */
  subscriberPayloadType: number;
}

export const CODECS: Record<CodecName, CodecInfo> = {
  VP8: { name: 'VP8', kind: 'video', clockRate: 90000, subscriberPayloadType: 96 },
  opus: { name: 'opus', kind: 'audio', clockRate: 48000, subscriberPayloadType: 111 },
};

export function codecByName(name: string): CodecInfo | undefined {
  const lower = name.toLowerCase();
  if (lower === 'vp8') return CODECS.VP8;
  if (lower === 'opus') return CODECS.opus;
  return undefined;
}

/**
 * True when the VP8 payload at `offset` starts a keyframe (RFC 7741): the payload descriptor has
 * S=1 and partition id 0, and the first byte of the VP8 payload header has P (inverse key frame
 * flag) = 0.
 */
export function isVp8KeyFrameStart(packet: Uint8Array, offset: number): boolean {
  if (offset >= packet.length) return false;
  const first = packet[offset]!;
  const startOfPartition = (first & 0x10) !== 0;
  const partitionId = first & 0x0f;
  if (!startOfPartition || partitionId !== 0) return false;
  let i = offset + 1;
  if (first & 0x80) {
    if (i >= packet.length) return false;
    const extension = packet[i]!;
    i += 1;
    if (extension & 0x80) i += i < packet.length && packet[i]! & 0x80 ? 2 : 1; // PictureID, 7 or 15 bits
    if (extension & 0x40) i += 1; // TL0PICIDX
    if (extension & 0x30) i += 1; // TID/KEYIDX
  }
  return i < packet.length && (packet[i]! & 0x01) === 0;
}
