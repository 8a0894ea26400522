/**
 * RTP and RTCP on raw buffers, allocation-free: every function reads or writes fixed offsets of
 * the buffer libdatachannel hands us (RFC 3550, RFC 8285). Nothing here keeps references.
 */

export const RTP_HEADER_BYTES = 12;

/** RFC 5761 demultiplexing: RTCP packet types 192-223 land in the second byte's range 64-95 + marker. */
export function isRtcp(packet: Uint8Array): boolean {
  if (packet.length < 2) return false;
  const type = packet[1]!;
  return type >= 192 && type <= 223;
}

/** A plausible RTP packet: version 2 and at least a fixed header. */
export function isRtp(packet: Uint8Array): boolean {
  return packet.length >= RTP_HEADER_BYTES && packet[0]! >> 6 === 2 && !isRtcp(packet);
}

export function payloadTypeOf(packet: Uint8Array): number {
  return packet[1]! & 0x7f;
}

export function setPayloadType(packet: Uint8Array, payloadType: number): void {
  packet[1] = (packet[1]! & 0x80) | (payloadType & 0x7f);
}

export function sequenceOf(packet: Uint8Array): number {
  return (packet[2]! << 8) | packet[3]!;
}

export function setSequence(packet: Uint8Array, sequence: number): void {
  packet[2] = (sequence >>> 8) & 0xff;
  packet[3] = sequence & 0xff;
}

export function timestampOf(packet: Uint8Array): number {
  return ((packet[4]! << 24) | (packet[5]! << 16) | (packet[6]! << 8) | packet[7]!) >>> 0;
}

export function setTimestamp(packet: Uint8Array, timestamp: number): void {
  writeU32(packet, 4, timestamp);
}

export function ssrcOf(packet: Uint8Array): number {
  return readU32(packet, 8);
}

export function setSsrc(packet: Uint8Array, ssrc: number): void {
  writeU32(packet, 8, ssrc);
}

export function readU32(buffer: Uint8Array, offset: number): number {
  return (
    ((buffer[offset]! << 24) |
      (buffer[offset + 1]! << 16) |
      (buffer[offset + 2]! << 8) |
      buffer[offset + 3]!) >>>
    0
  );
}

export function writeU32(buffer: Uint8Array, offset: number, value: number): void {
  buffer[offset] = (value >>> 24) & 0xff;
  buffer[offset + 1] = (value >>> 16) & 0xff;
  buffer[offset + 2] = (value >>> 8) & 0xff;
  buffer[offset + 3] = value & 0xff;
}

/**
 * Offset of the payload, or -1 when the header (CSRCs, extension) overruns the packet.
 */
export function payloadOffsetOf(packet: Uint8Array): number {
  let offset = RTP_HEADER_BYTES + (packet[0]! & 0x0f) * 4;
  if (packet[0]! & 0x10) {
    if (offset + 4 > packet.length) return -1;
    const words = (packet[offset + 2]! << 8) | packet[offset + 3]!;
    offset += 4 + words * 4;
  }
  return offset <= packet.length ? offset : -1;
}

/**
 * Turns the header extension elements whose id is flagged in `dropIds` into padding, in place.
 *
 * The publisher's mid/rid values mean nothing to a subscriber (its media sections have other
 * mids), and Chromium demultiplexes by mid before SSRC when the extension is negotiated: a stale
 * mid would silently route the packet to the wrong receiver. Zeroing an element keeps the packet
 * length, so no copy is needed (RFC 8285: id 0 is a padding byte in the one-byte form).
 */
export function padHeaderExtensions(packet: Uint8Array, dropIds: Uint8Array): void {
  if (!(packet[0]! & 0x10)) return;
  const start = RTP_HEADER_BYTES + (packet[0]! & 0x0f) * 4;
  if (start + 4 > packet.length) return;
  const profile = (packet[start]! << 8) | packet[start + 1]!;
  const end = start + 4 + ((packet[start + 2]! << 8) | packet[start + 3]!) * 4;
  if (end > packet.length) return;
  if (profile === 0xbede) padOneByteElements(packet, start + 4, end, dropIds);
  else if ((profile & 0xfff0) === 0x1000) padTwoByteElements(packet, start + 4, end, dropIds);
}

function padOneByteElements(packet: Uint8Array, from: number, end: number, dropIds: Uint8Array): void {
  let i = from;
  while (i < end) {
    const id = packet[i]! >> 4;
    if (id === 0) {
      i += 1;
      continue;
    }
    if (id === 15) return;
    const length = (packet[i]! & 0x0f) + 1;
    if (i + 1 + length > end) return;
    if (dropIds[id] === 1) packet.fill(0, i, i + 1 + length);
    i += 1 + length;
  }
}

function padTwoByteElements(packet: Uint8Array, from: number, end: number, dropIds: Uint8Array): void {
  let i = from;
  while (i + 1 < end) {
    const id = packet[i]!;
    if (id === 0) {
      i += 1;
      continue;
    }
    const length = packet[i + 1]!;
    if (i + 2 + length > end) return;
    // Two-byte form has no single padding id for a whole element: a zero id byte is padding,
    // so zero the element byte by byte.
    if (id < dropIds.length && dropIds[id] === 1) packet.fill(0, i, i + 2 + length);
    i += 2 + length;
  }
}

/** Reads the one-byte or two-byte header extension element `id`, as [offset, length], or null. */
export function findHeaderExtension(packet: Uint8Array, id: number): [number, number] | null {
  const offset = headerExtensionOffset(packet, id);
  return offset < 0 ? null : [offset, headerExtensionLength(packet, offset)];
}

/** Length of the element whose value starts at `valueOffset` (as returned by headerExtensionOffset). */
export function headerExtensionLength(packet: Uint8Array, valueOffset: number): number {
  const start = RTP_HEADER_BYTES + (packet[0]! & 0x0f) * 4;
  const twoByte = ((packet[start]! << 8) | packet[start + 1]!) !== 0xbede;
  return twoByte ? packet[valueOffset - 1]! : (packet[valueOffset - 1]! & 0x0f) + 1;
}

/** The value of header extension element `id` as text (rid, repaired rid), or '' when absent. */
export function headerExtensionText(packet: Buffer, id: number): string {
  const at = headerExtensionOffset(packet, id);
  return at < 0 ? '' : packet.toString('latin1', at, at + headerExtensionLength(packet, at));
}

/**
 * Offset of the value of header extension element `id`, or -1. The allocation-free form for the
 * packet path (transport-wide sequence numbers, audio levels, rids are read per packet).
 */
export function headerExtensionOffset(packet: Uint8Array, id: number): number {
  if (!(packet[0]! & 0x10) || id <= 0) return -1;
  const start = RTP_HEADER_BYTES + (packet[0]! & 0x0f) * 4;
  if (start + 4 > packet.length) return -1;
  const profile = (packet[start]! << 8) | packet[start + 1]!;
  const end = start + 4 + ((packet[start + 2]! << 8) | packet[start + 3]!) * 4;
  if (end > packet.length) return -1;
  const twoByte = (profile & 0xfff0) === 0x1000;
  if (!twoByte && profile !== 0xbede) return -1;
  let i = start + 4;
  while (i < end) {
    const elementId = twoByte ? packet[i]! : packet[i]! >> 4;
    if (elementId === 0) {
      i += 1;
      continue;
    }
    if (!twoByte && elementId === 15) return -1;
    const header = twoByte ? 2 : 1;
    const length = twoByte ? (i + 1 < end ? packet[i + 1]! : 0) : (packet[i]! & 0x0f) + 1;
    if (i + header + length > end) return -1;
    if (elementId === id) return i + header;
    i += header + length;
  }
  return -1;
}
