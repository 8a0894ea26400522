/**
 * The client-to-mixer audio level header extension (RFC 6464,
 * urn:ietf:params:rtp-hdrext:ssrc-audio-level): one byte, the voice-activity flag in the top bit
 * and the level in the low seven bits, in -dBov (0 is the loudest a stream can be, 127 silence).
 * It travels outside the payload, so the SFU reads it even when frames are end-to-end encrypted.
 */
import { headerExtensionLength, headerExtensionOffset } from './packet.ts';

export const AUDIO_LEVEL_URI = 'urn:ietf:params:rtp-hdrext:ssrc-audio-level';

/** The level a stream reports for digital silence, in -dBov. */
export const SILENT_DBOV = 127;

/**
 * The raw audio level byte of `packet` (0..255: voice flag << 7 | level), or -1 when the element
 * `id` is absent or empty. Both the one-byte and the two-byte header forms (RFC 8285), through
 * the same walker as every other extension; an element longer than one byte (padded by some
 * senders) is read from its first byte. Allocation-free: it runs on every audio packet.
 */
export function readAudioLevel(packet: Uint8Array, id: number): number {
  const at = headerExtensionOffset(packet, id);
  if (at < 0 || headerExtensionLength(packet, at) < 1) return -1;
  return packet[at]!;
}

/** The level of a raw audio level byte, in -dBov (0 loudest, 127 silence). */
export function audioLevelDbov(raw: number): number {
  return raw & 0x7f;
}

/** The voice-activity flag of a raw audio level byte. */
export function audioLevelVoice(raw: number): boolean {
  return (raw & 0x80) !== 0;
}
