/**
 * What a page passes to enable end-to-end encryption, and whether the browser can do it.
 *
 *   Session.connect(url, token, { e2ee: { sharedSecret } })      // SDK exchanges keys itself
 *   Session.connect(url, token, { e2ee: { keyProvider } })       // the app brings the keys
 */
import { ConclaveClientError } from '../errors.ts';
import type { DecryptFailure } from './frame-cryptor.ts';

export interface E2eeOptions {
  /**
   * A secret every participant of the session knows and the server never sees (the app
   * hands it out through its own channel). It authenticates the key exchange: with a wrong
   * secret a participant gets no keys. Prefer 128+ random bits; a passphrase is stretched
   * with PBKDF2 but stays guessable if short.
   */
  sharedSecret?: string | Uint8Array;
  /** Keys from the application's own key exchange instead of a shared secret. */
  keyProvider?: E2eeKeyProvider;
  /** How often this participant ratchets its media key forward (default 60 s, at least 1 s). */
  ratchetIntervalMs?: number;
  /**
   * URL of the E2EE worker script (conclave-e2ee-worker.js, served next to the SDK). Default:
   * next to the SDK when the SDK comes from the page's origin, otherwise a Blob URL of the
   * copy embedded in the SDK (the page's CSP must then allow `worker-src blob:`).
   */
  workerUrl?: string | URL;
}

/**
 * For applications with their own key exchange. Keys are 16 or 32 random bytes; the SDK still
 * ratchets them forward on its schedule (key id + 1 per step) and asks for a fresh one when a
 * participant leaves.
 */
export interface E2eeKeyProvider {
  /**
   * This participant's next media key, with the key id it will be used under. Called once at
   * the start and whenever a participant left; hand it to the others before resolving when you
   * can (their frames fail to decrypt until they have it).
   */
  localKey(request: {
    connectionId: string;
    keyId: number;
    reason: 'initial' | 'participantLeft';
  }): Promise<Uint8Array | ArrayBuffer>;
  /**
   * The newest key of another participant whose id is at most `keyId` (the SDK ratchets from it
   * to `keyId`), or null when unknown. Asked when frames arrive that no key held opens.
   */
  remoteKey(request: {
    connectionId: string;
    keyId: number;
  }): Promise<{ keyId: number; key: Uint8Array | ArrayBuffer } | null>;
}

export type DecryptionFailureReason = DecryptFailure | 'key_exchange';

export interface DecryptionFailedEvent {
  /** Whose frames or key messages failed. */
  connectionId: string;
  /**
   * missing_key: no key for the frame's key id (not received yet, or a wrong secret);
   * auth_failed: the key id is known but the frame does not authenticate; malformed: not an
   * encrypted frame; key_exchange: a key-exchange message did not authenticate.
   */
  reason: DecryptionFailureReason;
}

export const DEFAULT_RATCHET_INTERVAL_MS = 60_000;
export const MIN_RATCHET_INTERVAL_MS = 1000;

/** True when this browser can transform encoded frames in a worker with WebCrypto. */
export function e2eeSupported(): boolean {
  return encodedTransformMode() !== null && typeof Worker !== 'undefined' && !!globalThis.crypto?.subtle;
}

/** RTCRtpScriptTransform where it exists, createEncodedStreams (Chromium's older API) otherwise. */
export function encodedTransformMode(): 'script' | 'streams' | null {
  if (typeof RTCRtpScriptTransform !== 'undefined') return 'script';
  if (typeof RTCRtpSender !== 'undefined' && 'createEncodedStreams' in RTCRtpSender.prototype)
    return 'streams';
  return null;
}

export function validateE2eeOptions(options: E2eeOptions): void {
  const hasSecret =
    (typeof options.sharedSecret === 'string' && options.sharedSecret.length > 0) ||
    (options.sharedSecret instanceof Uint8Array && options.sharedSecret.length > 0);
  const hasProvider =
    typeof options.keyProvider?.localKey === 'function' &&
    typeof options.keyProvider?.remoteKey === 'function';
  if (hasSecret === hasProvider) {
    throw new ConclaveClientError(
      'invalid_argument',
      'e2ee needs exactly one of sharedSecret or keyProvider',
    );
  }
  const interval = options.ratchetIntervalMs;
  if (interval !== undefined && !(Number.isFinite(interval) && interval >= MIN_RATCHET_INTERVAL_MS)) {
    throw new ConclaveClientError(
      'invalid_argument',
      `ratchetIntervalMs must be at least ${MIN_RATCHET_INTERVAL_MS}`,
    );
  }
}
