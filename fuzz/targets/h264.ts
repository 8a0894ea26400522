/**
 * H.264 keyframe detection (apps/server/src/media/rtp/h264.ts, RFC 6184): gates which packet a new
 * subscriber or a simulcast layer switch starts on. Walks STAP-A aggregates by their own size
 * fields: never throws, never reports a keyframe from outside the packet, whatever the offset.
 *
 * Input: first byte is the payload offset, the rest is the packet.
 */
import { isH264KeyFrameStart } from '../../apps/server/src/media/rtp/h264.ts';
import { check, expectOnly, InputReader } from './contract.ts';

export function fuzz(data: Buffer): void {
  const reader = new InputReader(data);
  const offset = reader.byte();
  const packet = Uint8Array.from(reader.rest());
  for (const at of [offset, 0, packet.length, packet.length + 1, -1]) {
    const result = expectOnly(
      'isH264KeyFrameStart',
      () => isH264KeyFrameStart(packet, at),
      () => false,
    );
    check(result.ok && typeof result.value === 'boolean', 'isH264KeyFrameStart returns a boolean');
    if (result.value)
      check(at >= 0 && at < packet.length, `key frame reported at ${at} of ${packet.length} bytes`);
  }
  // The same packet cut short: a keyframe found in the cut one must be found in the whole one.
  const cut = Math.min(packet.length, offset + 4);
  const inCut = expectOnly(
    'isH264KeyFrameStart',
    () => isH264KeyFrameStart(packet, offset, cut),
    () => false,
  );
  check(inCut.ok, 'isH264KeyFrameStart with an end');
}
