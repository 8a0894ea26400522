import { randomBytes, timingSafeEqual } from 'node:crypto';

/** 128 random bits, URL-safe: ids a participant cannot guess for someone else. */
function randomId(prefix: string): string {
  return prefix + randomBytes(16).toString('base64url');
}

export const newConnectionId = (): string => randomId('con_');
export const newStreamId = (): string => randomId('str_');
/** Proves, on resume, that the new WebSocket belongs to the participant that dropped. */
export const newResumeToken = (): string => randomBytes(32).toString('base64url');

export function sameSecret(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
