/**
 * The encrypted frame format (version 1). Pure byte layout, no crypto: shared by the worker
 * that encrypts and decrypts and by tests that inspect what the SFU forwards.
 *
 *   | clear header | AES-GCM ciphertext | tag (16) | counter (8) | key id (4) | header length (1) | magic (1) |
 *
 * - The clear header stays readable so the SFU and the browser's packetizer keep working: VP8
 *   keyframes keep 10 bytes (frame tag, start code, dimensions), VP8 delta frames 3 (frame tag,
 *   with the keyframe bit the SFU gates layer switches on), audio 1 (the Opus TOC byte).
 * - The trailer (the last 14 bytes) carries what a receiver needs: the counter the IV is built
 *   from, the sender's key id, how many header bytes are clear, and a magic byte.
 * - The clear header and the trailer are the additional authenticated data: changing either
 *   (say, the header length or a keyframe bit) makes authentication fail.
 * - IV (12 bytes) = per-key salt XOR the 64-bit counter in the last 8 bytes. The counter grows
 *   by one per frame a participant sends, across all of its tracks, and never goes back while
 *   a key is in use, so no IV repeats under one key.
 */

export const FRAME_MAGIC = 0xce;
export const TAG_BYTES = 16;
export const TRAILER_BYTES = 14;
export const IV_BYTES = 12;
/** The most a frame grows when encrypted. */
export const FRAME_OVERHEAD = TAG_BYTES + TRAILER_BYTES;

export const CLEAR_BYTES = {
  vp8Key: 10,
  vp8Delta: 3,
  audio: 1,
} as const;

export type MediaKind = 'audio' | 'video';

/** How many leading bytes of a frame stay in clear. */
export function clearHeaderLength(kind: MediaKind, keyFrame: boolean, frameLength: number): number {
  const wanted = kind === 'audio' ? CLEAR_BYTES.audio : keyFrame ? CLEAR_BYTES.vp8Key : CLEAR_BYTES.vp8Delta;
  return Math.min(wanted, frameLength);
}

export interface Trailer {
  counter: number;
  keyId: number;
  headerLength: number;
}

export function writeTrailer(target: Uint8Array, offset: number, trailer: Trailer): void {
  const view = new DataView(target.buffer, target.byteOffset + offset, TRAILER_BYTES);
  // The counter stays below 2^53 (one frame per microsecond would take 285 years to get there).
  view.setUint32(0, Math.floor(trailer.counter / 0x1_0000_0000));
  view.setUint32(4, trailer.counter >>> 0);
  view.setUint32(8, trailer.keyId >>> 0);
  view.setUint8(12, trailer.headerLength);
  view.setUint8(13, FRAME_MAGIC);
}

/** The trailer of an encrypted frame, or null when the bytes are not one (too short, no magic). */
export function readTrailer(frame: Uint8Array): Trailer | null {
  if (frame.length < FRAME_OVERHEAD) return null;
  const view = new DataView(frame.buffer, frame.byteOffset + frame.length - TRAILER_BYTES, TRAILER_BYTES);
  if (view.getUint8(13) !== FRAME_MAGIC) return null;
  const headerLength = view.getUint8(12);
  if (headerLength + FRAME_OVERHEAD > frame.length) return null;
  const counter = view.getUint32(0) * 0x1_0000_0000 + view.getUint32(4);
  return { counter, keyId: view.getUint32(8), headerLength };
}

/** IV for one frame: the key's salt with the counter XORed into its last 8 bytes. */
export function frameIv(salt: Uint8Array, counter: number): Uint8Array {
  const iv = new Uint8Array(salt);
  const high = Math.floor(counter / 0x1_0000_0000);
  const low = counter >>> 0;
  const view = new DataView(iv.buffer);
  view.setUint32(4, view.getUint32(4) ^ high);
  view.setUint32(8, view.getUint32(8) ^ low);
  return iv;
}

/** Additional authenticated data: the clear header followed by the trailer. */
export function frameAad(frame: Uint8Array, headerLength: number): Uint8Array {
  const aad = new Uint8Array(headerLength + TRAILER_BYTES);
  aad.set(frame.subarray(0, headerLength), 0);
  aad.set(frame.subarray(frame.length - TRAILER_BYTES), headerLength);
  return aad;
}
