/**
 * RTP header, CSRC list, one-byte and two-byte header extensions and padding
 * (apps/server/src/media/rtp/packet.ts), and the audio level element read from them
 * (apps/server/src/media/rtp/audio-level.ts). The functions run on every forwarded packet and read a
 * buffer straight from the network: they must never throw and never report anything outside
 * the packet.
 *
 * Input: first byte selects which extension ids to drop, the rest is the datagram.
 */
import { readAudioLevel } from '../../apps/server/src/media/rtp/audio-level.ts';
import {
  findHeaderExtension,
  isRtcp,
  isRtp,
  padHeaderExtensions,
  payloadOffsetOf,
  payloadTypeOf,
  RTP_HEADER_BYTES,
  sequenceOf,
  ssrcOf,
  timestampOf,
} from '../../apps/server/src/media/rtp/packet.ts';
import { check, expectOnly, InputReader } from './contract.ts';

const never = () => false;

export function fuzz(data: Buffer): void {
  const reader = new InputReader(data);
  const dropSelector = reader.byte();
  const packet = Uint8Array.from(reader.rest());
  const rtp = expectOnly('isRtp', () => isRtp(packet), never);
  const rtcp = expectOnly('isRtcp', () => isRtcp(packet), never);
  check(rtp.ok && rtcp.ok, 'classification');
  check(!(rtp.value && rtcp.value), 'a packet is not both RTP and RTCP');
  if (!rtp.value) return;
  checkFixedHeader(packet);
  const payload = expectOnly('payloadOffsetOf', () => payloadOffsetOf(packet), never);
  check(payload.ok, 'payloadOffsetOf');
  check(
    payload.value === -1 || (payload.value >= RTP_HEADER_BYTES && payload.value <= packet.length),
    `payload offset ${payload.value} outside a ${packet.length}-byte packet`,
  );
  for (let id = 0; id <= 256; id++) {
    checkExtension(packet, id);
    checkAudioLevel(packet, id);
  }
  checkPadding(packet, dropSelector);
}

function checkFixedHeader(packet: Uint8Array): void {
  const values = [payloadTypeOf(packet), sequenceOf(packet), timestampOf(packet), ssrcOf(packet)];
  check(
    values.every((v) => Number.isInteger(v) && v >= 0),
    `fixed header fields are not integers: ${values.join(',')}`,
  );
  check(
    payloadTypeOf(packet) <= 127 && sequenceOf(packet) <= 0xffff,
    'payload type or sequence out of range',
  );
}

function checkExtension(packet: Uint8Array, id: number): void {
  const found = expectOnly('findHeaderExtension', () => findHeaderExtension(packet, id), never);
  check(found.ok, 'findHeaderExtension');
  if (found.value === null) return;
  const [offset, length] = found.value;
  check(
    Number.isInteger(offset) && Number.isInteger(length) && length >= 0,
    `extension ${id}: non-integer [${offset}, ${length}]`,
  );
  check(offset >= RTP_HEADER_BYTES + 4 + 1, `extension ${id} starts inside the fixed header`);
  check(
    offset + length <= packet.length,
    `extension ${id} [${offset}, ${length}] overruns ${packet.length} bytes`,
  );
  const payloadStart = payloadOffsetOf(packet);
  check(
    payloadStart !== -1 && offset + length <= payloadStart,
    `extension ${id} overruns the header extension block`,
  );
}

/** The audio level is -1 or the first byte of the element the walker found, never anything else. */
function checkAudioLevel(packet: Uint8Array, id: number): void {
  const level = expectOnly('readAudioLevel', () => readAudioLevel(packet, id), never);
  check(level.ok, 'readAudioLevel');
  const found = findHeaderExtension(packet, id);
  const expected = found === null || found[1] === 0 ? -1 : packet[found[0]]!;
  check(level.value === expected, `audio level ${level.value} for extension ${id}, expected ${expected}`);
}

/** padHeaderExtensions may only zero bytes of the extension block, in place. */
function checkPadding(packet: Uint8Array, dropSelector: number): void {
  const dropIds = new Uint8Array(256);
  for (let id = 0; id < 256; id++) dropIds[id] = (id * 37 + dropSelector) % 3 === 0 ? 1 : 0;
  const before = Uint8Array.from(packet);
  const run = expectOnly('padHeaderExtensions', () => padHeaderExtensions(packet, dropIds), never);
  check(run.ok, 'padHeaderExtensions');
  const blockStart = RTP_HEADER_BYTES + (before[0]! & 0x0f) * 4 + 4;
  const payloadStart = payloadOffsetOf(before);
  for (let i = 0; i < packet.length; i++) {
    if (packet[i] === before[i]) continue;
    check(packet[i] === 0, `byte ${i} changed to a non-zero value`);
    check(
      payloadStart !== -1 && i >= blockStart && i < payloadStart,
      `byte ${i} outside the extension block changed`,
    );
  }
}
