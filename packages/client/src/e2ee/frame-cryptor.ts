/**
 * Encrypts this participant's frames and decrypts everybody else's, in the frame format of
 * frame-format.ts. Runs inside the E2EE worker (and in Node tests: it needs only WebCrypto).
 *
 * Receivers keep a few recent keys per sender, so frames still in flight with the previous key
 * decrypt after a ratchet or a rekey. A frame with a newer key id within RATCHET_WINDOW of the
 * newest key held is tried with the ratcheted key; the ratchet is kept only if the frame
 * authenticates (a fresh random key after a rekey also carries a newer id, and must not be
 * replaced by a wrong guess).
 */
import {
  clearHeaderLength,
  FRAME_OVERHEAD,
  frameAad,
  frameIv,
  type MediaKind,
  readTrailer,
  TAG_BYTES,
  TRAILER_BYTES,
  writeTrailer,
} from './frame-format.ts';
import { importMediaKey, type MediaKey, ratchetForward } from './media-keys.ts';

/** How far ahead of its newest key a receiver ratchets on its own. */
export const RATCHET_WINDOW = 16;
/** How many keys older than the newest are kept per sender (for frames still in flight). */
const KEPT_OLDER_KEYS = 2;

export type DecryptFailure = 'missing_key' | 'auth_failed' | 'malformed';

export type DecryptResult =
  | { ok: true; data: Uint8Array }
  | { ok: false; reason: DecryptFailure; keyId: number | null };

class SenderKeys {
  readonly byId = new Map<number, MediaKey>();
  newest: MediaKey | null = null;
  /** Key ids a ratchet guess already failed for: not derived again and again. */
  readonly failedGuesses = new Set<number>();

  add(key: MediaKey): void {
    this.byId.set(key.keyId, key);
    // A new key changes what a ratchet guess starts from.
    this.failedGuesses.clear();
    if (!this.newest || key.keyId >= this.newest.keyId) this.newest = key;
    const ids = [...this.byId.keys()].sort((a, b) => a - b);
    for (const id of ids.slice(0, Math.max(0, ids.length - 1 - KEPT_OLDER_KEYS))) this.byId.delete(id);
  }
}

export class FrameCryptor {
  #local: MediaKey | null = null;
  /** Frames this participant sent: the IV counter, shared by all its tracks. */
  #counter = 0;
  readonly #senders = new Map<string, SenderKeys>();

  get localKeyId(): number | null {
    return this.#local?.keyId ?? null;
  }

  async setLocalKey(keyId: number, material: Uint8Array): Promise<void> {
    this.#local = await importMediaKey(keyId, material);
  }

  async setRemoteKey(participantId: string, keyId: number, material: Uint8Array): Promise<void> {
    const key = await importMediaKey(keyId, material);
    this.#keysOf(participantId).add(key);
  }

  forget(participantId: string): void {
    this.#senders.delete(participantId);
  }

  /** Encrypts one of this participant's frames; null when there is no key yet (drop the frame). */
  async encrypt(frame: Uint8Array, kind: MediaKind, keyFrame: boolean): Promise<Uint8Array | null> {
    const key = this.#local;
    if (!key) return null;
    const headerLength = clearHeaderLength(kind, keyFrame, frame.length);
    const counter = this.#counter++;
    const out = new Uint8Array(frame.length + FRAME_OVERHEAD);
    out.set(frame.subarray(0, headerLength), 0);
    writeTrailer(out, out.length - TRAILER_BYTES, { counter, keyId: key.keyId, headerLength });
    const sealed = await crypto.subtle.encrypt(
      {
        name: 'AES-GCM',
        iv: frameIv(key.salt, counter) as BufferSource,
        additionalData: frameAad(out, headerLength) as BufferSource,
      },
      key.aesKey,
      frame.subarray(headerLength) as BufferSource,
    );
    out.set(new Uint8Array(sealed), headerLength);
    return out;
  }

  /** Decrypts another participant's frame. Never throws: a failure says why. */
  async decrypt(participantId: string, frame: Uint8Array): Promise<DecryptResult> {
    const trailer = readTrailer(frame);
    if (!trailer) return { ok: false, reason: 'malformed', keyId: null };
    const keys = this.#senders.get(participantId);
    const held = keys?.byId.get(trailer.keyId);
    if (held) {
      const data = await open(held, frame, trailer.headerLength, trailer.counter);
      return data ? { ok: true, data } : { ok: false, reason: 'auth_failed', keyId: trailer.keyId };
    }
    const ratcheted = keys ? await this.#tryRatchet(keys, frame, trailer) : null;
    return ratcheted ?? { ok: false, reason: 'missing_key', keyId: trailer.keyId };
  }

  async #tryRatchet(
    keys: SenderKeys,
    frame: Uint8Array,
    trailer: { keyId: number; headerLength: number; counter: number },
  ): Promise<DecryptResult | null> {
    const newest = keys.newest;
    if (!newest || keys.failedGuesses.has(trailer.keyId)) return null;
    const steps = trailer.keyId - newest.keyId;
    if (steps <= 0 || steps > RATCHET_WINDOW) return null;
    const candidate = await ratchetForward(newest, steps);
    const data = await open(candidate, frame, trailer.headerLength, trailer.counter);
    if (!data) {
      keys.failedGuesses.add(trailer.keyId);
      return null;
    }
    keys.add(candidate);
    return { ok: true, data };
  }

  #keysOf(participantId: string): SenderKeys {
    let keys = this.#senders.get(participantId);
    if (!keys) {
      keys = new SenderKeys();
      this.#senders.set(participantId, keys);
    }
    return keys;
  }
}

/** AES-GCM open of one frame: the plaintext frame (clear header + payload), or null. */
async function open(
  key: MediaKey,
  frame: Uint8Array,
  headerLength: number,
  counter: number,
): Promise<Uint8Array | null> {
  const sealedEnd = frame.length - TRAILER_BYTES;
  if (sealedEnd - headerLength < TAG_BYTES) return null;
  try {
    const plain = await crypto.subtle.decrypt(
      {
        name: 'AES-GCM',
        iv: frameIv(key.salt, counter) as BufferSource,
        additionalData: frameAad(frame, headerLength) as BufferSource,
      },
      key.aesKey,
      frame.subarray(headerLength, sealedEnd) as BufferSource,
    );
    const out = new Uint8Array(headerLength + plain.byteLength);
    out.set(frame.subarray(0, headerLength), 0);
    out.set(new Uint8Array(plain), headerLength);
    return out;
  } catch {
    return null;
  }
}
