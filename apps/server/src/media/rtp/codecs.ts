/**
 * What the SFU knows about the codecs it forwards: clock rates and how to spot a keyframe start,
 * so a new consumer starts on a picture the browser can decode.
 */
export type CodecName = 'VP8' | 'H264' | 'opus';

export interface CodecInfo {
  name: CodecName;
  kind: 'audio' | 'video';
  clockRate: number;
  /** Payload type the SFU offers to subscribers for this codec. */
  subscriberPayloadType: number;
  /** RTX payload type offered to subscribers with it (retransmissions); 0: none (audio). */
  subscriberRtxPayloadType: number;
}

export const CODECS: Record<CodecName, CodecInfo> = {
  VP8: {
    name: 'VP8',
    kind: 'video',
    clockRate: 90000,
    subscriberPayloadType: 96,
    subscriberRtxPayloadType: 97,
  },
  H264: {
    name: 'H264',
    kind: 'video',
    clockRate: 90000,
    subscriberPayloadType: 102,
    subscriberRtxPayloadType: 103,
  },
  opus: {
    name: 'opus',
    kind: 'audio',
    clockRate: 48000,
    subscriberPayloadType: 111,
    subscriberRtxPayloadType: 0,
  },
};

export function codecByName(name: string): CodecInfo | undefined {
  const lower = name.toLowerCase();
  if (lower === 'vp8') return CODECS.VP8;
  if (lower === 'h264') return CODECS.H264;
  if (lower === 'opus') return CODECS.opus;
  return undefined;
}

/**
 * What the SFU reads from a VP8 payload descriptor (RFC 7741 4.2), written into a reused object
 * so the packet path allocates nothing. Offsets are absolute in the packet; -1 when absent.
 */
export interface Vp8Descriptor {
  keyFrameStart: boolean;
  /** PictureID value (7 or 15 bits), -1 when absent. */
  pictureId: number;
  pictureIdAt: number;
  /** True for the 15-bit form (M bit set). */
  pictureIdLong: boolean;
  tl0PicIdx: number;
  tl0PicIdxAt: number;
}

export function emptyVp8Descriptor(): Vp8Descriptor {
  return {
    keyFrameStart: false,
    pictureId: -1,
    pictureIdAt: -1,
    pictureIdLong: false,
    tl0PicIdx: -1,
    tl0PicIdxAt: -1,
  };
}

/**
 * Reads the descriptor of the VP8 payload at `offset` into `out`. A keyframe starts where S=1,
 * partition id 0, and the first byte of the VP8 payload header has P (inverse key frame flag) = 0.
 */
export function readVp8Descriptor(packet: Uint8Array, offset: number, out: Vp8Descriptor): void {
  out.keyFrameStart = false;
  out.pictureId = -1;
  out.pictureIdAt = -1;
  out.pictureIdLong = false;
  out.tl0PicIdx = -1;
  out.tl0PicIdxAt = -1;
  if (offset >= packet.length) return;
  const first = packet[offset]!;
  let i = offset + 1;
  if (first & 0x80) {
    if (i >= packet.length) return;
    const extension = packet[i]!;
    i += 1;
    if (extension & 0x80) {
      if (i >= packet.length) return;
      out.pictureIdAt = i;
      out.pictureIdLong = (packet[i]! & 0x80) !== 0;
      if (out.pictureIdLong) {
        if (i + 1 >= packet.length) return;
        out.pictureId = ((packet[i]! & 0x7f) << 8) | packet[i + 1]!;
        i += 2;
      } else {
        out.pictureId = packet[i]! & 0x7f;
        i += 1;
      }
    }
    if (extension & 0x40) {
      if (i >= packet.length) return;
      out.tl0PicIdxAt = i;
      out.tl0PicIdx = packet[i]!;
      i += 1;
    }
    if (extension & 0x30) i += 1; // TID/KEYIDX
  }
  const startOfPartition = (first & 0x10) !== 0;
  const partitionId = first & 0x0f;
  out.keyFrameStart = startOfPartition && partitionId === 0 && i < packet.length && (packet[i]! & 0x01) === 0;
}

/** Rewrites the PictureID read by readVp8Descriptor, keeping its 7- or 15-bit form. */
export function writeVp8PictureId(packet: Uint8Array, descriptor: Vp8Descriptor, pictureId: number): void {
  const at = descriptor.pictureIdAt;
  if (descriptor.pictureIdLong) {
    packet[at] = 0x80 | ((pictureId >> 8) & 0x7f);
    packet[at + 1] = pictureId & 0xff;
  } else {
    packet[at] = pictureId & 0x7f;
  }
}

const scratch = emptyVp8Descriptor();

/** True when the VP8 payload at `offset` starts a keyframe (see readVp8Descriptor). */
export function isVp8KeyFrameStart(packet: Uint8Array, offset: number): boolean {
  readVp8Descriptor(packet, offset, scratch);
  return scratch.keyFrameStart;
}
