/**
 * VP8 payload descriptor (RFC 7741) as read by isVp8KeyFrameStart (apps/server/src/media/rtp/codecs.ts):
 * gates which packet a new subscriber starts on. Never throws, whatever the offset.
 *
 * Input: first byte is the payload offset, the rest is the packet.
 */
import { isVp8KeyFrameStart } from '../../apps/server/src/media/rtp/codecs.ts';
import { check, expectOnly, InputReader } from './contract.ts';

export function fuzz(data: Buffer): void {
  const reader = new InputReader(data);
  const offset = reader.byte();
  const packet = Uint8Array.from(reader.rest());
  for (const at of [offset, 0, packet.length, packet.length + 1]) {
    const result = expectOnly(
      'isVp8KeyFrameStart',
      () => isVp8KeyFrameStart(packet, at),
      () => false,
    );
    check(result.ok && typeof result.value === 'boolean', 'isVp8KeyFrameStart returns a boolean');
    if (result.value)
      check(at < packet.length, `key frame reported at ${at} past a ${packet.length}-byte packet`);
  }
}
