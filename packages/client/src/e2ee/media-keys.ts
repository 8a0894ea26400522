/**
 * Media keys. Each participant encrypts its frames with its own 32 random bytes of key
 * material; everything else is derived from it with HKDF-SHA-256 through WebCrypto:
 * the AES-256-GCM frame key, the 12-byte IV salt, and the next key of the forward ratchet.
 * The ratchet is one-way: holding key n gives n+1, n+2, ... but never n-1.
 */

export const KEY_MATERIAL_BYTES = 32;
const LABEL = 'conclave-e2ee/v1 ';
const encoder = new TextEncoder();

export interface MediaKey {
  keyId: number;
  /** The raw material: handed to other participants, and the input of the ratchet. */
  material: Uint8Array;
  /** AES-256-GCM, non-extractable, encrypt and decrypt. */
  aesKey: CryptoKey;
  salt: Uint8Array;
}

export function randomKeyMaterial(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(KEY_MATERIAL_BYTES));
}

/** HKDF-SHA-256 with an empty salt: `bytes` of output for one labelled purpose. */
export async function hkdf(
  ikm: Uint8Array,
  info: string,
  bytes: number,
  salt?: Uint8Array,
): Promise<Uint8Array> {
  const base = await crypto.subtle.importKey('raw', ikm as BufferSource, 'HKDF', false, ['deriveBits']);
  const bits = await crypto.subtle.deriveBits(
    {
      name: 'HKDF',
      hash: 'SHA-256',
      salt: (salt ?? new Uint8Array(0)) as BufferSource,
      info: encoder.encode(info),
    },
    base,
    bytes * 8,
  );
  return new Uint8Array(bits);
}

/** The frame key and salt of one key id's material. */
export async function importMediaKey(keyId: number, material: Uint8Array): Promise<MediaKey> {
  if (material.length !== KEY_MATERIAL_BYTES && material.length !== 16) {
    throw new TypeError('Key material must be 16 or 32 bytes');
  }
  const [keyBytes, salt] = await Promise.all([
    hkdf(material, `${LABEL}frame key`, 32),
    hkdf(material, `${LABEL}frame salt`, 12),
  ]);
  const aesKey = await crypto.subtle.importKey('raw', keyBytes as BufferSource, 'AES-GCM', false, [
    'encrypt',
    'decrypt',
  ]);
  return { keyId, material: new Uint8Array(material), aesKey, salt };
}

/** The next key of the ratchet: key id + 1, material = HKDF(material). */
export async function ratchetMaterial(material: Uint8Array): Promise<Uint8Array> {
  return hkdf(material, `${LABEL}ratchet`, KEY_MATERIAL_BYTES);
}

/** Key `steps` ratchet steps after `from`. */
export async function ratchetForward(from: MediaKey, steps: number): Promise<MediaKey> {
  let material = from.material;
  for (let i = 0; i < steps; i++) material = await ratchetMaterial(material);
  return importMediaKey(from.keyId + steps, material);
}
