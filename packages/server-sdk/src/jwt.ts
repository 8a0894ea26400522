/**
 * Signing compact JWS with node:crypto. The key never leaves this process: participant tokens
 * are minted here, and each REST call carries its own fresh, short-lived JWT.
 */
import { createHmac, createPrivateKey, type KeyObject, randomBytes, sign as signWith } from 'node:crypto';
import type { TokenAlgorithm } from '@conclave/protocol/tokens';

/** What signs: the application's shared API secret, or its registered private key. */
export type SigningKey =
  | { algorithm: 'HS256'; secret: Buffer }
  | { algorithm: 'EdDSA' | 'ES256'; privateKey: KeyObject };

export function secretSigningKey(apiSecret: string): SigningKey {
  if (apiSecret.length === 0) throw new TypeError('apiSecret must not be empty');
  return { algorithm: 'HS256', secret: Buffer.from(apiSecret, 'utf8') };
}

/** Ed25519 keys sign EdDSA, P-256 keys sign ES256; any other key is refused here, not by the server. */
export function privateSigningKey(privateKey: string | KeyObject): SigningKey {
  const key = typeof privateKey === 'string' ? createPrivateKey(privateKey) : privateKey;
  if (key.type !== 'private') throw new TypeError('privateKey must be a private key');
  if (key.asymmetricKeyType === 'ed25519') return { algorithm: 'EdDSA', privateKey: key };
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') {
    return { algorithm: 'ES256', privateKey: key };
  }
  throw new TypeError('privateKey must be an Ed25519 or P-256 (ES256) key');
}

export function signJwt(claims: Record<string, unknown>, key: SigningKey, kid?: string): string {
  const header: { alg: TokenAlgorithm; typ: 'JWT'; kid?: string } = { alg: key.algorithm, typ: 'JWT' };
  if (kid !== undefined) header.kid = kid;
  const signingInput = `${encodeJson(header)}.${encodeJson(claims)}`;
  return `${signingInput}.${signature(signingInput, key).toString('base64url')}`;
}

/** 128 random bits, enough that two tokens never share a jti. */
export function newJti(): string {
  return randomBytes(16).toString('base64url');
}

export function nowSeconds(clock: () => number = Date.now): number {
  return Math.floor(clock() / 1000);
}

function signature(signingInput: string, key: SigningKey): Buffer {
  const data = Buffer.from(signingInput, 'ascii');
  switch (key.algorithm) {
    case 'HS256':
      return createHmac('sha256', key.secret).update(data).digest();
    case 'EdDSA':
      return signWith(null, data, key.privateKey);
    case 'ES256':
      // JWS wants raw r||s (IEEE P1363), not the DER node:crypto produces by default.
      return signWith('sha256', data, { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
  }
}

function encodeJson(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}
