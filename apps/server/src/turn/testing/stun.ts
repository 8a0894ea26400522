/**
 * STUN message encoding (RFC 8489) with the TURN attributes (RFC 8656) our tests need:
 * MESSAGE-INTEGRITY (HMAC-SHA1, long-term credential key) and FINGERPRINT (CRC-32).
 * Test support only: the server never speaks TURN itself, coturn does.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { isIPv4 } from 'node:net';
import { crc32 } from '../../media/worker/ice-check.ts';

export const MAGIC_COOKIE = 0x2112a442;
const HEADER_BYTES = 20;
const FINGERPRINT_XOR = 0x5354554e;

export const Method = { binding: 0x001, allocate: 0x003, refresh: 0x004, createPermission: 0x008 } as const;
export const MessageClass = { request: 0x000, indication: 0x010, success: 0x100, error: 0x110 } as const;

export const Attr = {
  mappedAddress: 0x0001,
  username: 0x0006,
  messageIntegrity: 0x0008,
  errorCode: 0x0009,
  lifetime: 0x000d,
  xorPeerAddress: 0x0012,
  realm: 0x0014,
  nonce: 0x0015,
  xorRelayedAddress: 0x0016,
  requestedAddressFamily: 0x0017,
  requestedTransport: 0x0019,
  xorMappedAddress: 0x0020,
  software: 0x8022,
  fingerprint: 0x8028,
} as const;

export type Attribute = readonly [type: number, value: Buffer];

export interface StunMessage {
  method: number;
  messageClass: number;
  transactionId: Buffer;
  attributes: Attribute[];
  raw: Buffer;
}

export interface EncodeOptions {
  method: number;
  messageClass: number;
  transactionId?: Buffer;
  attributes?: readonly Attribute[];
  /** Long-term credential key; adds MESSAGE-INTEGRITY. */
  integrityKey?: Buffer;
  fingerprint?: boolean;
}

export function newTransactionId(): Buffer {
  return randomBytes(12);
}

export function encodeStun(options: EncodeOptions): Buffer {
  const transactionId = options.transactionId ?? newTransactionId();
  let body = Buffer.concat((options.attributes ?? []).map(([type, value]) => encodeAttribute(type, value)));
  const type = messageType(options.method, options.messageClass);
  if (options.integrityKey) {
    // The HMAC covers the header with a length that already counts the MESSAGE-INTEGRITY attribute.
    const covered = Buffer.concat([header(type, body.length + 24, transactionId), body]);
    const mac = createHmac('sha1', options.integrityKey).update(covered).digest();
    body = Buffer.concat([body, encodeAttribute(Attr.messageIntegrity, mac)]);
  }
  if (options.fingerprint) {
    const covered = Buffer.concat([header(type, body.length + 8, transactionId), body]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE((crc32(covered) ^ FINGERPRINT_XOR) >>> 0);
    body = Buffer.concat([body, encodeAttribute(Attr.fingerprint, crc)]);
  }
  return Buffer.concat([header(type, body.length, transactionId), body]);
}

export function decodeStun(raw: Buffer): StunMessage {
  if (raw.length < HEADER_BYTES || raw.readUInt32BE(4) !== MAGIC_COOKIE)
    throw new Error('not a STUN message');
  const type = raw.readUInt16BE(0);
  const length = raw.readUInt16BE(2);
  if (raw.length < HEADER_BYTES + length) throw new Error('truncated STUN message');
  const attributes: Attribute[] = [];
  for (let at = HEADER_BYTES; at + 4 <= HEADER_BYTES + length; ) {
    const attrType = raw.readUInt16BE(at);
    const attrLength = raw.readUInt16BE(at + 2);
    attributes.push([attrType, raw.subarray(at + 4, at + 4 + attrLength)]);
    at += 4 + padded(attrLength);
  }
  return {
    method: (type & 0x000f) | ((type & 0x00e0) >> 1) | ((type & 0x3e00) >> 2),
    messageClass: type & 0x0110,
    transactionId: raw.subarray(8, 20),
    attributes,
    raw: raw.subarray(0, HEADER_BYTES + length),
  };
}

/** Total length of the STUN message at the start of a stream buffer, or null if incomplete. */
export function stunFrameLength(buffer: Buffer): number | null {
  if (buffer.length < HEADER_BYTES) return null;
  const total = HEADER_BYTES + buffer.readUInt16BE(2);
  return buffer.length >= total ? total : null;
}

export function attribute(message: StunMessage, type: number): Buffer | undefined {
  return message.attributes.find(([t]) => t === type)?.[1];
}

/** RFC 8489 long-term credential key: MD5(username ":" realm ":" password). */
export function longTermKey(username: string, realm: string, password: string): Buffer {
  return createHash('md5').update(`${username}:${realm}:${password}`).digest();
}

/** Checks a received message's MESSAGE-INTEGRITY against the key. */
export function hasValidIntegrity(message: StunMessage, key: Buffer): boolean {
  const offset = attributeOffset(message, Attr.messageIntegrity);
  if (offset === null) return false;
  const covered = Buffer.from(message.raw.subarray(0, offset));
  covered.writeUInt16BE(offset + 24 - HEADER_BYTES, 2);
  const expected = createHmac('sha1', key).update(covered).digest();
  const actual = message.raw.subarray(offset + 4, offset + 24);
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

export function hasValidFingerprint(message: StunMessage): boolean {
  const offset = attributeOffset(message, Attr.fingerprint);
  if (offset === null) return false;
  const expected = (crc32(message.raw.subarray(0, offset)) ^ FINGERPRINT_XOR) >>> 0;
  return message.raw.readUInt32BE(offset + 4) === expected;
}

export interface ErrorCode {
  code: number;
  reason: string;
}

export function errorCode(message: StunMessage): ErrorCode | null {
  const value = attribute(message, Attr.errorCode);
  if (!value || value.length < 4) return null;
  return { code: (value[2] ?? 0) * 100 + (value[3] ?? 0), reason: value.subarray(4).toString('utf8') };
}

export interface TransportAddress {
  address: string;
  port: number;
}

export function encodeXorAddress(peer: TransportAddress, transactionId: Buffer): Buffer {
  const ipv4 = isIPv4(peer.address);
  const value = Buffer.alloc(ipv4 ? 8 : 20);
  value[1] = ipv4 ? 0x01 : 0x02;
  value.writeUInt16BE(peer.port ^ (MAGIC_COOKIE >>> 16), 2);
  const mask = xorMask(transactionId);
  const address = ipBytes(peer.address);
  for (let i = 0; i < address.length; i++) value[4 + i] = (address[i] ?? 0) ^ (mask[i] ?? 0);
  return value;
}

export function decodeXorAddress(value: Buffer, transactionId: Buffer): TransportAddress {
  const ipv4 = value[1] === 0x01;
  const port = value.readUInt16BE(2) ^ (MAGIC_COOKIE >>> 16);
  const mask = xorMask(transactionId);
  const bytes = Buffer.from(value.subarray(4, ipv4 ? 8 : 20));
  for (let i = 0; i < bytes.length; i++) bytes[i] = (bytes[i] ?? 0) ^ (mask[i] ?? 0);
  const address = ipv4 ? [...bytes].join('.') : ipv6Text(bytes);
  return { address, port };
}

function xorMask(transactionId: Buffer): Buffer {
  const cookie = Buffer.alloc(4);
  cookie.writeUInt32BE(MAGIC_COOKIE);
  return Buffer.concat([cookie, transactionId]);
}

function ipBytes(ip: string): Buffer {
  if (isIPv4(ip)) return Buffer.from(ip.split('.').map(Number));
  const [head = '', tail = ''] = ip.includes('::') ? ip.split('::') : [ip, ''];
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const missing = 8 - headGroups.length - tailGroups.length;
  const groups = ip.includes('::')
    ? [...headGroups, ...Array<string>(missing).fill('0'), ...tailGroups]
    : headGroups;
  const out = Buffer.alloc(16);
  for (const [i, group] of groups.entries()) out.writeUInt16BE(Number.parseInt(group, 16), i * 2);
  return out;
}

function ipv6Text(bytes: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  return groups.join(':');
}

function attributeOffset(message: StunMessage, type: number): number | null {
  for (let at = HEADER_BYTES; at + 4 <= message.raw.length; ) {
    if (message.raw.readUInt16BE(at) === type) return at;
    at += 4 + padded(message.raw.readUInt16BE(at + 2));
  }
  return null;
}

function messageType(method: number, messageClass: number): number {
  return (method & 0x000f) | ((method & 0x0070) << 1) | ((method & 0x0f80) << 2) | messageClass;
}

function header(type: number, length: number, transactionId: Buffer): Buffer {
  const out = Buffer.alloc(HEADER_BYTES);
  out.writeUInt16BE(type, 0);
  out.writeUInt16BE(length, 2);
  out.writeUInt32BE(MAGIC_COOKIE, 4);
  transactionId.copy(out, 8);
  return out;
}

function encodeAttribute(type: number, value: Buffer): Buffer {
  const out = Buffer.alloc(4 + padded(value.length));
  out.writeUInt16BE(type, 0);
  out.writeUInt16BE(value.length, 2);
  value.copy(out, 4);
  return out;
}

function padded(length: number): number {
  return (length + 3) & ~3;
}
