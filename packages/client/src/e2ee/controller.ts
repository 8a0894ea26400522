/**
 * End-to-end encryption of one session: this participant's media key and its schedule, the
 * key exchange (shared secret) or the application's key provider, and the worker that does
 * the frame crypto. Session creates one when the page asked for E2EE and tells it who comes
 * and goes; publishers and subscribers hand it their senders and receivers.
 *
 * The local key:
 * - starts as 32 random bytes (or the provider's key), key id 0;
 * - ratchets forward (key id + 1) every `ratchetIntervalMs`, and when someone joins, so the
 *   newcomer, who is sent the key current then, cannot open what was sent before it came;
 *   receivers follow a ratchet on their own when frames show the next key id;
 * - is replaced by fresh random bytes when someone leaves: the new key goes to each
 *   participant still present, and is used once all of them acknowledged it (or after
 *   REKEY_ACK_TIMEOUT_MS), so the pictures do not freeze while it travels.
 */
import { ConclaveClientError } from '../errors.ts';
import { E2EE_SIGNAL, KeyExchange } from './key-exchange.ts';
import { KEY_MATERIAL_BYTES, randomKeyMaterial, ratchetMaterial } from './media-keys.ts';
import { MediaProtection } from './media-protection.ts';
import {
  DEFAULT_RATCHET_INTERVAL_MS,
  type DecryptionFailedEvent,
  type E2eeKeyProvider,
  type E2eeOptions,
  encodedTransformMode,
} from './options.ts';
import { launchE2eeWorker } from './worker-launch.ts';
import type { FromWorker } from './worker-protocol.ts';

export { E2EE_SIGNAL };

/** How long a new key waits for acknowledgements before it is used anyway. */
export const REKEY_ACK_TIMEOUT_MS = 1500;
/** A participant that only ever saw an old key is sent the current one after this many ratchets. */
const RESEND_AFTER_RATCHETS = 8;
const FAILURE_REPORT_INTERVAL_MS = 1000;

interface LocalKey {
  keyId: number;
  material: Uint8Array;
}

interface PendingKey extends LocalKey {
  awaiting: Set<string>;
  timer: ReturnType<typeof setTimeout>;
}

export interface E2eeControllerOptions {
  options: E2eeOptions;
  selfId: string;
  sessionId: string;
  /** Sends a reserved signal to one connection. */
  signal(to: string, data: string): Promise<void>;
  failed(event: DecryptionFailedEvent): void;
}

export class E2eeController {
  readonly protection: MediaProtection;
  readonly #options: E2eeControllerOptions;
  readonly #provider: E2eeKeyProvider | null;
  #selfId: string;
  #exchange: Promise<KeyExchange | null>;
  #active: LocalKey | null = null;
  /** Key id of the fresh key the current ratchet chain started from. */
  #chainStart = 0;
  #pending: PendingKey | null = null;
  /** Per participant: the newest key id sent to it (shared-secret mode). */
  readonly #sentTo = new Map<string, number>();
  readonly #lastFailure = new Map<string, number>();
  readonly #ratchetTimer: ReturnType<typeof setInterval>;
  /** Local key changes run one after another. */
  #keyChanges: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(options: E2eeControllerOptions) {
    const mode = encodedTransformMode();
    if (!mode)
      throw new ConclaveClientError('e2ee_unsupported', 'This browser cannot encrypt frames end to end');
    this.#options = options;
    this.#provider = options.options.keyProvider ?? null;
    this.#selfId = options.selfId;
    const worker = launchE2eeWorker(options.options.workerUrl);
    worker.addEventListener('message', (event: MessageEvent<FromWorker>) =>
      this.#onWorkerMessage(event.data),
    );
    this.protection = new MediaProtection(worker, mode);
    this.#exchange = this.#createExchange();
    this.#changeKey(() => this.#startKey('initial'));
    const interval = options.options.ratchetIntervalMs ?? DEFAULT_RATCHET_INTERVAL_MS;
    this.#ratchetTimer = setInterval(() => this.#changeKey(() => this.#ratchet()), interval);
  }

  /** Another participant is in the session (present at join, or joined later). */
  onPeerJoined(peerId: string): void {
    void this.#exchange.then((exchange) => exchange?.introduce(peerId));
    this.#changeKey(() => this.#ratchet());
  }

  onPeerLeft(peerId: string): void {
    void this.#exchange.then((exchange) => exchange?.forget(peerId));
    this.#sentTo.delete(peerId);
    this.#lastFailure.delete(peerId);
    this.protection.post({ type: 'forget', participantId: peerId });
    this.#changeKey(() => this.#startKey('participantLeft'));
  }

  /** Handles the reserved key-exchange signal; true when the signal was one. */
  onSignal(from: string | null, signalType: string, data: string): boolean {
    if (signalType !== E2EE_SIGNAL) return false;
    if (from) void this.#exchange.then((exchange) => exchange?.onSignal(from, data));
    return true;
  }

  /** The server gave this participant a new connection id (a fresh rejoin): start over. */
  reset(selfId: string): void {
    this.#selfId = selfId;
    this.#sentTo.clear();
    this.#exchange = this.#createExchange();
    this.#changeKey(() => this.#startKey('initial'));
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#ratchetTimer);
    if (this.#pending) clearTimeout(this.#pending.timer);
    this.protection.close();
  }

  // -------------------------------------------------------------------------------------------
  // The local key

  #changeKey(change: () => Promise<void>): void {
    this.#keyChanges = this.#keyChanges
      .then(() => (this.#closed ? undefined : change()))
      .catch((error) => console.warn('[conclave] e2ee key change failed', error));
  }

  /** A fresh key: at the start, after a rejoin, and when someone left. */
  async #startKey(reason: 'initial' | 'participantLeft'): Promise<void> {
    const keyId = Math.max(this.#active?.keyId ?? -1, this.#pending?.keyId ?? -1) + 1;
    if (this.#pending) clearTimeout(this.#pending.timer);
    this.#pending = null;
    if (this.#provider) {
      const key = await this.#provider.localKey({ connectionId: this.#selfId, keyId, reason });
      return this.#activate({ keyId, material: checkedKey(key) });
    }
    const material = randomKeyMaterial();
    const exchange = await this.#exchange;
    const recipients = exchange?.establishedPeers ?? [];
    if (reason === 'initial' || recipients.length === 0) return this.#activate({ keyId, material });
    const timer = setTimeout(() => this.#changeKey(() => this.#activatePending(keyId)), REKEY_ACK_TIMEOUT_MS);
    this.#pending = { keyId, material, awaiting: new Set(recipients), timer };
    await this.#shareKeys();
  }

  async #ratchet(): Promise<void> {
    // A fresh key is on its way: ratcheting the old one would be wasted.
    if (!this.#active || this.#pending) return;
    const next = { keyId: this.#active.keyId + 1, material: await ratchetMaterial(this.#active.material) };
    this.#active = next;
    this.#post(next);
    await this.#shareKeys();
  }

  #activatePending(keyId: number): Promise<void> {
    const pending = this.#pending;
    if (!pending || pending.keyId !== keyId) return Promise.resolve();
    clearTimeout(pending.timer);
    this.#pending = null;
    return this.#activate(pending);
  }

  /** Starts using a fresh key (the start of a new ratchet chain). */
  async #activate(key: LocalKey): Promise<void> {
    this.#active = key;
    this.#chainStart = key.keyId;
    this.#post(key);
    await this.#shareKeys();
  }

  #post(key: LocalKey): void {
    this.protection.post({ type: 'localKey', keyId: key.keyId, material: key.material });
  }

  /**
   * Sends each participant with an established channel what it lacks: the key in use when it
   * holds no key of the current chain (or one so old that it may not ratchet that far on its
   * own), then the pending key.
   */
  async #shareKeys(): Promise<void> {
    const exchange = await this.#exchange;
    const active = this.#active;
    if (!exchange || !active) return;
    const pending = this.#pending;
    const sends: Promise<void>[] = [];
    for (const peerId of exchange.establishedPeers) {
      let sent = this.#sentTo.get(peerId) ?? -1;
      if (sent < this.#chainStart || active.keyId - sent >= RESEND_AFTER_RATCHETS) {
        sends.push(exchange.sendKey(peerId, active.keyId, active.material));
        sent = active.keyId;
      }
      if (pending && sent < pending.keyId) {
        sends.push(exchange.sendKey(peerId, pending.keyId, pending.material));
        sent = pending.keyId;
      }
      this.#sentTo.set(peerId, sent);
    }
    await Promise.all(sends);
  }

  // -------------------------------------------------------------------------------------------
  // Keys of the others

  async #createExchange(): Promise<KeyExchange | null> {
    const secret = this.#options.options.sharedSecret;
    if (secret === undefined) return null;
    const selfId = this.#selfId;
    return KeyExchange.create({
      selfId,
      sessionId: this.#options.sessionId,
      sharedSecret: secret,
      handlers: {
        send: (to, data) => this.#options.signal(to, data).catch(() => undefined),
        established: () => this.#changeKey(() => this.#shareKeys()),
        key: (from, keyId, material) => this.#onRemoteKey(from, keyId, material),
        ack: (from, keyId) => this.#onAck(from, keyId),
        rejected: (from) => this.#fail(from, 'key_exchange'),
      },
    });
  }

  #onRemoteKey(from: string, keyId: number, material: Uint8Array): void {
    if (material.length !== KEY_MATERIAL_BYTES) {
      this.#fail(from, 'key_exchange');
      return;
    }
    this.protection.post({ type: 'remoteKey', participantId: from, keyId, material });
    void this.#exchange.then((exchange) => exchange?.sendAck(from, keyId));
  }

  #onAck(from: string, keyId: number): void {
    const pending = this.#pending;
    if (!pending || pending.keyId !== keyId) return;
    pending.awaiting.delete(from);
    if (pending.awaiting.size === 0) this.#changeKey(() => this.#activatePending(keyId));
  }

  async #askProvider(connectionId: string, keyId: number): Promise<void> {
    const found = await this.#provider?.remoteKey({ connectionId, keyId });
    if (!found) return;
    const material = checkedKey(found.key);
    this.protection.post({ type: 'remoteKey', participantId: connectionId, keyId: found.keyId, material });
  }

  #onWorkerMessage(message: FromWorker): void {
    if (message.type !== 'decryptionFailed') return;
    if (message.reason === 'missing_key' && this.#provider && message.keyId !== null) {
      this.#askProvider(message.participantId, message.keyId).catch((error) =>
        console.warn('[conclave] e2ee keyProvider.remoteKey failed', error),
      );
    }
    this.#fail(message.participantId, message.reason);
  }

  #fail(connectionId: string, reason: DecryptionFailedEvent['reason']): void {
    const key = `${connectionId}|${reason}`;
    const now = Date.now();
    if (now - (this.#lastFailure.get(key) ?? 0) < FAILURE_REPORT_INTERVAL_MS) return;
    this.#lastFailure.set(key, now);
    this.#options.failed({ connectionId, reason });
  }
}

function checkedKey(key: Uint8Array | ArrayBuffer): Uint8Array {
  const bytes = key instanceof Uint8Array ? new Uint8Array(key) : new Uint8Array(key);
  if (bytes.length !== 16 && bytes.length !== KEY_MATERIAL_BYTES) {
    throw new ConclaveClientError('invalid_argument', 'E2EE keys must be 16 or 32 bytes');
  }
  return bytes;
}
