/**
 * Loss recovery parsers on network input (apps/server/src/media/rtp/nack.ts): generic NACKs from
 * subscribers (each FCI entry names at most 17 sequence numbers) and RTX packets from publishers
 * (restored into a fixed buffer, never past it, never from padding).
 *
 * Input: first byte is where the RTCP part ends and the RTX part starts.
 */
import { forEachNackedSequence, unwrapRtx, wrapRtx } from '../../apps/server/src/media/rtp/nack.ts';
import { check, expectOnly, InputReader } from './contract.ts';

const never = () => false;

export function fuzz(data: Buffer): void {
  const reader = new InputReader(data);
  const split = reader.byte();
  const rest = Buffer.from(reader.rest());
  const rtcp = Uint8Array.from(rest.subarray(0, split));
  const rtx = Buffer.from(rest.subarray(split));
  let count = 0;
  const walk = expectOnly(
    'forEachNackedSequence',
    () =>
      forEachNackedSequence(rtcp, (ssrc, sequence) => {
        count++;
        check(ssrc >= 0 && ssrc <= 0xffffffff && sequence >= 0 && sequence <= 0xffff, 'NACK fields in range');
      }),
    never,
  );
  check(walk.ok, 'forEachNackedSequence');
  check(count <= (rtcp.length / 4) * 17, `${count} NACKed sequence numbers from ${rtcp.length} bytes`);
  const out = Buffer.alloc(256);
  const restored = expectOnly('unwrapRtx', () => unwrapRtx(rtx, out, { payloadType: 96, ssrc: 7 }), never);
  check(restored.ok, 'unwrapRtx');
  if (!restored.value) return;
  check(restored.value.length === rtx.length - 2, 'the restored packet is the RTX packet minus its OSN');
  check((restored.value[1]! & 0x7f) === 96, 'the restored packet carries the media payload type');
  // Wrapping it again gives back the RTX payload.
  const again = wrapRtx(restored.value, Buffer.alloc(300), {
    payloadType: rtx[1]! & 0x7f,
    ssrc: 1,
    sequence: 0,
  });
  check(again?.subarray(12).equals(rtx.subarray(12)) === true, 'wrapRtx(unwrapRtx(x)) keeps the payload');
}
