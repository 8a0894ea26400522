/**
 * Public keys an application may register instead of signing with the shared secret: Ed25519
 * (EdDSA) or P-256 (ES256), as PEM SPKI. Anything else is refused with a reason the operator
 * can act on; a private key in particular is refused rather than silently reduced to its
 * public half, because it should never have left the partner's back-end.
 */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { ConclaveError } from '@conclave/protocol/errors';

export type PublicKeyAlgorithm = 'EdDSA' | 'ES256';

export interface ParsedPublicKey {
  algorithm: PublicKeyAlgorithm;
  key: KeyObject;
  /** Normalised SPKI PEM, as stored. */
  pem: string;
}

export function parsePublicKeyPem(pem: string): ParsedPublicKey {
  if (looksLikePrivateKey(pem)) {
    throw refuse('This is a private key. Register the public key only (PEM "BEGIN PUBLIC KEY").');
  }
  if (!/-----BEGIN PUBLIC KEY-----/.test(pem)) {
    throw refuse('Expected a PEM SPKI public key ("-----BEGIN PUBLIC KEY-----").');
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch {
    throw refuse('The PEM public key could not be parsed.');
  }
  const algorithm = algorithmOf(key);
  return { algorithm, key, pem: key.export({ type: 'spki', format: 'pem' }).toString() };
}

export function publicKeyFromPem(pem: string): KeyObject {
  return createPublicKey({ key: pem, format: 'pem' });
}

function algorithmOf(key: KeyObject): PublicKeyAlgorithm {
  if (key.asymmetricKeyType === 'ed25519') return 'EdDSA';
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1') return 'ES256';
    throw refuse(`EC keys must use the P-256 curve (ES256); this one uses ${curve ?? 'an unknown curve'}.`);
  }
  throw refuse(
    `Only Ed25519 (EdDSA) and P-256 (ES256) public keys are accepted, not ${key.asymmetricKeyType ?? 'this key type'}.`,
  );
}

function looksLikePrivateKey(pem: string): boolean {
  if (/PRIVATE KEY-----/.test(pem)) return true;
  try {
    createPrivateKey({ key: pem, format: 'pem' });
    return true;
  } catch {
    return false;
  }
}

function refuse(message: string): ConclaveError {
  return new ConclaveError('invalid_request', message);
}
