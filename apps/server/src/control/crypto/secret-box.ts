/**
 * API secrets at rest: AES-256-GCM under the master key, with a random 96-bit IV per secret.
 * The additional data binds a ciphertext to its application and secret id, so a row copied
 * onto another application does not decrypt.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

export interface SealedSecret {
  iv: Buffer;
  ciphertext: Buffer;
  authTag: Buffer;
}

export interface SecretBinding {
  appId: string;
  secretId: string;
}

const IV_BYTES = 12;

function additionalData(binding: SecretBinding): Buffer {
  return Buffer.from(`conclave/app-secret/v1\0${binding.appId}\0${binding.secretId}`, 'utf8');
}

export class SecretBox {
  readonly #key: Buffer;

  constructor(masterKey: Buffer) {
    if (masterKey.length !== 32) throw new Error('the master key must be 32 bytes');
    this.#key = Buffer.from(masterKey);
  }

  seal(plaintext: Buffer, binding: SecretBinding): SealedSecret {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    cipher.setAAD(additionalData(binding));
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return { iv, ciphertext, authTag: cipher.getAuthTag() };
  }

  /** Throws when the ciphertext, its tag or its binding was tampered with, or the key differs. */
  open(sealed: SealedSecret, binding: SecretBinding): Buffer {
    const decipher = createDecipheriv('aes-256-gcm', this.#key, sealed.iv);
    decipher.setAAD(additionalData(binding));
    decipher.setAuthTag(sealed.authTag);
    return Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]);
  }
}
