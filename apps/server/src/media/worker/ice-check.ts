/**
 * Reading and re-signing ICE connectivity checks (STUN Binding requests, RFC 8445 7.1) for the
 * tie-breaker relay (tiebreaker-relay.ts). Works on the raw bytes: the relay only ever changes
 * two attribute values in place and signs the message again with the same short-term key.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { isIPv4 } from 'node:net';

const HEADER_BYTES = 20;
const MAGIC_COOKIE = 0x2112a442;
export const BINDING_REQUEST = 0x0001;
export const BINDING_SUCCESS = 0x0101;
const FINGERPRINT_XOR = 0x5354554e;

export const IceAttr = {
  username: 0x0006,
  messageIntegrity: 0x0008,
  xorMappedAddress: 0x0020,
  priority: 0x0024,
  iceControlled: 0x8029,
  iceControlling: 0x802a,
  fingerprint: 0x8028,
} as const;

/** Where the attributes the relay cares about sit in one signed Binding request or response. */
export interface IceCheck {
  /** The whole message (header and attributes, without trailing bytes). */
  raw: Buffer;
  /** USERNAME: "<receiver's ufrag>:<sender's ufrag>" (requests only). */
  username: string;
  /** Offsets of attribute values, or -1 when absent. */
  roleAt: number;
  priorityAt: number;
  xorMappedAt: number;
  /** Offsets of the attribute headers (type field). */
  integrityAttrAt: number;
  fingerprintAttrAt: number;
}

/** A STUN message starts with two zero bits and carries the magic cookie (RFC 8489 5, RFC 7983). */
export function isStun(datagram: Buffer): boolean {
  return (
    datagram.length >= HEADER_BYTES && (datagram[0] ?? 0xff) < 4 && datagram.readUInt32BE(4) === MAGIC_COOKIE
  );
}

/**
 * Parses a signed (MESSAGE-INTEGRITY) STUN message of the given type: a Binding request, or a
 * Binding success response; null for anything else or malformed.
 */
export function parseIceCheck(datagram: Buffer, type = BINDING_REQUEST): IceCheck | null {
  if (!isStun(datagram) || datagram.readUInt16BE(0) !== type) return null;
  const end = HEADER_BYTES + datagram.readUInt16BE(2);
  if (end > datagram.length || end % 4 !== 0) return null;
  const check = {
    username: '',
    roleAt: -1,
    priorityAt: -1,
    xorMappedAt: -1,
    integrityAttrAt: -1,
    fingerprintAttrAt: -1,
  };
  for (let at = HEADER_BYTES; at + 4 <= end; ) {
    const type = datagram.readUInt16BE(at);
    const length = datagram.readUInt16BE(at + 2);
    if (at + 4 + length > end) return null;
    if (!readAttribute(check, datagram, type, length, at)) return null;
    at += 4 + ((length + 3) & ~3);
  }
  if (check.integrityAttrAt < 0 || (type === BINDING_REQUEST && !check.username)) return null;
  return { raw: datagram.subarray(0, end), ...check };
}

function readAttribute(
  check: Omit<IceCheck, 'raw'>,
  datagram: Buffer,
  type: number,
  length: number,
  at: number,
): boolean {
  // Attributes after MESSAGE-INTEGRITY other than FINGERPRINT are ignored (RFC 8489 14.5).
  const afterIntegrity = check.integrityAttrAt >= 0;
  if (type === IceAttr.fingerprint) check.fingerprintAttrAt = at;
  else if (afterIntegrity) return true;
  else if (type === IceAttr.messageIntegrity) check.integrityAttrAt = length === 20 ? at : -2;
  else if (type === IceAttr.username) check.username = datagram.toString('utf8', at + 4, at + 4 + length);
  else if (type === IceAttr.priority && length === 4) check.priorityAt = at + 4;
  else if (type === IceAttr.xorMappedAddress && (length === 8 || length === 20)) check.xorMappedAt = at + 4;
  else if ((type === IceAttr.iceControlling || type === IceAttr.iceControlled) && length === 8) {
    // Both role attributes in one request is malformed (RFC 8445 7.1.3): leave it to the ICE agent.
    if (check.roleAt >= 0) return false;
    check.roleAt = at + 4;
  }
  return check.integrityAttrAt !== -2;
}

/** The ufrag of the agent that receives the check (first half of USERNAME). */
export function receiverUfrag(check: IceCheck): string {
  const colon = check.username.indexOf(':');
  return colon > 0 ? check.username.slice(0, colon) : '';
}

/** True when the check carries ICE-CONTROLLING or ICE-CONTROLLED with a tie-breaker of zero. */
export function hasZeroTiebreaker(check: IceCheck): boolean {
  return check.roleAt >= 0 && check.raw.readBigUInt64BE(check.roleAt) === 0n;
}

/** MESSAGE-INTEGRITY with the short-term key (the receiver's ICE password, RFC 8445 7.2.2). */
export function hasValidIntegrity(check: IceCheck, password: string): boolean {
  const expected = integrity(check, password);
  const actual = check.raw.subarray(check.integrityAttrAt + 4, check.integrityAttrAt + 24);
  return timingSafeEqual(actual, expected);
}

export interface CheckChange {
  tiebreaker?: bigint;
  priority?: number;
  /** New XOR-MAPPED-ADDRESS, same family as the old one (a response's view of the sender). */
  mapped?: { address: string; port: number };
}

/**
 * A copy of the message with the given values replaced, signed again with `password` and with a
 * fresh FINGERPRINT. The caller has verified (or produced) the original signature with the same
 * password.
 */
export function resignCheck(check: IceCheck, password: string, change: CheckChange): Buffer {
  const out = Buffer.from(check.raw);
  const copy: IceCheck = { ...check, raw: out };
  if (change.tiebreaker !== undefined && copy.roleAt >= 0)
    out.writeBigUInt64BE(change.tiebreaker, copy.roleAt);
  if (change.priority !== undefined && copy.priorityAt >= 0)
    out.writeUInt32BE(change.priority, copy.priorityAt);
  if (change.mapped && copy.xorMappedAt >= 0) writeXorMapped(out, copy.xorMappedAt, change.mapped);
  integrity(copy, password).copy(out, copy.integrityAttrAt + 4);
  if (copy.fingerprintAttrAt >= 0) {
    const crc = crc32(out.subarray(0, copy.fingerprintAttrAt));
    out.writeUInt32BE((crc ^ FINGERPRINT_XOR) >>> 0, copy.fingerprintAttrAt + 4);
  }
  return out;
}

/** XOR-MAPPED-ADDRESS value (RFC 8489 14.2): port and address XORed with the cookie (and id). */
function writeXorMapped(out: Buffer, at: number, mapped: { address: string; port: number }): void {
  const ipv4 = out[at + 1] === 0x01;
  if (ipv4 !== isIPv4(mapped.address)) return;
  out.writeUInt16BE(mapped.port ^ (MAGIC_COOKIE >>> 16), at + 2);
  const bytes = ipv4 ? Buffer.from(mapped.address.split('.').map(Number)) : ipv6Bytes(mapped.address);
  const mask = out.subarray(4, 20); // magic cookie then transaction id
  for (let i = 0; i < bytes.length; i++) out[at + 4 + i] = (bytes[i] ?? 0) ^ (mask[i] ?? 0);
}

function ipv6Bytes(address: string): Buffer {
  const [head = '', tail = ''] = address.split('::');
  const headGroups = head ? head.split(':') : [];
  const tailGroups = address.includes('::') && tail ? tail.split(':') : [];
  const zeros = Array<string>(8 - headGroups.length - tailGroups.length).fill('0');
  const out = Buffer.alloc(16);
  for (const [i, group] of [...headGroups, ...zeros, ...tailGroups].entries()) {
    out.writeUInt16BE(Number.parseInt(group, 16), i * 2);
  }
  return out;
}

/** HMAC-SHA1 over the message up to MESSAGE-INTEGRITY, with the length counting MESSAGE-INTEGRITY. */
function integrity(check: IceCheck, password: string): Buffer {
  const header = Buffer.from(check.raw.subarray(0, HEADER_BYTES));
  header.writeUInt16BE(check.integrityAttrAt + 24 - HEADER_BYTES, 2);
  return createHmac('sha1', password)
    .update(header)
    .update(check.raw.subarray(HEADER_BYTES, check.integrityAttrAt))
    .digest();
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

/** CRC-32 (ISO 3309), as STUN's FINGERPRINT requires. */
export function crc32(data: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of data) crc = (CRC_TABLE[(crc ^ byte) & 0xff] ?? 0) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
