/**
 * Pairwise key exchange over signaling, for the shared-secret mode. Media keys travel from each
 * sender to each participant present, one message per recipient, relayed by the server as a
 * reserved signal (`conclave:e2ee`) addressed to one connection. The server relays but can
 * neither read nor inject:
 *
 * - The shared secret is stretched (PBKDF2-SHA-256, salted with the session id) into a root
 *   key that never leaves the page.
 * - `hello` carries the sender's ECDH P-256 public key, sealed with AES-GCM under a channel key
 *   HKDF(root, from, to): only holders of the secret can make or read one, and it is bound to
 *   the two connection ids (a hello for one recipient does not open at another).
 * - Both hellos give both sides the same ECDH secret; HKDF(ecdh, salt = root, from, to) gives
 *   one key per direction. `key` (a media key) and `ack` are sealed with it. Someone who learns
 *   the shared secret later still cannot open recorded key messages without an ECDH private
 *   key, which is generated per connection and never exported.
 * - The additional authenticated data of every message names its kind, the session, the sender
 *   and the recipient.
 */

import { hkdf } from './media-keys.ts';

export const E2EE_SIGNAL = 'conclave:e2ee';
const VERSION = 1;
const LABEL = 'conclave-e2ee/v1';
/** PBKDF2 iterations for the shared secret: a passphrase is not a key; this slows guessing. */
export const SECRET_STRETCH_ITERATIONS = 100_000;
const MAX_MESSAGE_CHARS = 4096;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

type Kind = 'hello' | 'key' | 'ack';

export interface KeyExchangeHandlers {
  /** Sends `data` as the reserved signal to one connection. */
  send(to: string, data: string): Promise<void>;
  /** Both sides have each other's public key: media keys can flow to `peerId`. */
  established(peerId: string): void;
  key(from: string, keyId: number, material: Uint8Array): void;
  ack(from: string, keyId: number): void;
  /** A message from `from` did not authenticate (wrong secret, forged, replayed elsewhere). */
  rejected(from: string): void;
}

interface PeerChannel {
  helloSent: boolean;
  theirPublicKey: string | null;
  /** Pairwise keys, once both public keys are known. */
  toPeer: CryptoKey | null;
  fromPeer: CryptoKey | null;
}

export class KeyExchange {
  readonly #selfId: string;
  readonly #sessionId: string;
  readonly #root: Uint8Array;
  readonly #ecdh: CryptoKeyPair;
  readonly #publicKey: string;
  readonly #handlers: KeyExchangeHandlers;
  readonly #peers = new Map<string, PeerChannel>();
  /** Incoming messages are handled one at a time, in arrival order. */
  #queue: Promise<void> = Promise.resolve();

  private constructor(
    selfId: string,
    sessionId: string,
    root: Uint8Array,
    ecdh: CryptoKeyPair,
    publicKey: string,
    handlers: KeyExchangeHandlers,
  ) {
    this.#selfId = selfId;
    this.#sessionId = sessionId;
    this.#root = root;
    this.#ecdh = ecdh;
    this.#publicKey = publicKey;
    this.#handlers = handlers;
  }

  static async create(options: {
    selfId: string;
    sessionId: string;
    sharedSecret: string | Uint8Array;
    handlers: KeyExchangeHandlers;
  }): Promise<KeyExchange> {
    const [root, ecdh] = await Promise.all([
      stretchSecret(options.sharedSecret, options.sessionId),
      crypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, false, ['deriveBits']),
    ]);
    const publicKey = toBase64(new Uint8Array(await crypto.subtle.exportKey('raw', ecdh.publicKey)));
    return new KeyExchange(options.selfId, options.sessionId, root, ecdh, publicKey, options.handlers);
  }

  /** Starts the exchange with a participant (sends our hello once). */
  async introduce(peerId: string): Promise<void> {
    const peer = this.#peer(peerId);
    if (!peer.helloSent) await this.#sendHello(peerId, false);
  }

  isEstablished(peerId: string): boolean {
    return this.#peers.get(peerId)?.toPeer != null;
  }

  get establishedPeers(): string[] {
    return [...this.#peers].filter(([, p]) => p.toPeer).map(([id]) => id);
  }

  forget(peerId: string): void {
    this.#peers.delete(peerId);
  }

  async sendKey(peerId: string, keyId: number, material: Uint8Array): Promise<void> {
    const key = this.#peers.get(peerId)?.toPeer;
    if (!key) return;
    await this.#send(peerId, 'key', key, { id: keyId, m: toBase64(material) });
  }

  async sendAck(peerId: string, keyId: number): Promise<void> {
    const key = this.#peers.get(peerId)?.toPeer;
    if (!key) return;
    await this.#send(peerId, 'ack', key, { id: keyId });
  }

  /** A `conclave:e2ee` signal from another participant. Never throws. */
  onSignal(from: string, data: string): Promise<void> {
    const run = this.#queue.then(() => this.#receive(from, data));
    this.#queue = run.catch(() => undefined);
    return this.#queue;
  }

  async #receive(from: string, data: string): Promise<void> {
    const envelope = parseEnvelope(data);
    if (!envelope) return this.#handlers.rejected(from);
    const peer = this.#peer(from);
    const key = envelope.k === 'hello' ? await this.#channelKey(from, this.#selfId) : peer.fromPeer;
    if (!key) return; // a key before the hello: cannot be read yet, and the hello follows
    const body = await this.#open(envelope, key, from);
    if (!body) return this.#handlers.rejected(from);
    if (envelope.k === 'hello') return this.#onHello(from, peer, body);
    if (envelope.k === 'key' && isKeyBody(body)) {
      return this.#handlers.key(from, body.id, fromBase64(body.m));
    }
    if (envelope.k === 'ack' && isKeyId(body.id)) return this.#handlers.ack(from, body.id);
  }

  async #onHello(from: string, peer: PeerChannel, body: Record<string, unknown>): Promise<void> {
    if (typeof body.pub !== 'string') return this.#handlers.rejected(from);
    const isNew = peer.theirPublicKey !== body.pub;
    if (isNew) {
      const theirs = await crypto.subtle.importKey(
        'raw',
        fromBase64(body.pub) as BufferSource,
        { name: 'ECDH', namedCurve: 'P-256' },
        false,
        [],
      );
      const shared = new Uint8Array(
        await crypto.subtle.deriveBits({ name: 'ECDH', public: theirs }, this.#ecdh.privateKey, 256),
      );
      peer.toPeer = await this.#pairwiseKey(shared, this.#selfId, from);
      peer.fromPeer = await this.#pairwiseKey(shared, from, this.#selfId);
      peer.theirPublicKey = body.pub;
    }
    // Answer a first hello (ours may have been sent before they listened); never answer an answer.
    if (body.r !== true || !peer.helloSent) await this.#sendHello(from, true);
    if (isNew) this.#handlers.established(from);
  }

  async #sendHello(peerId: string, reply: boolean): Promise<void> {
    this.#peer(peerId).helloSent = true;
    const key = await this.#channelKey(this.#selfId, peerId);
    await this.#send(peerId, 'hello', key, { pub: this.#publicKey, r: reply });
  }

  async #send(to: string, kind: Kind, key: CryptoKey, body: Record<string, unknown>): Promise<void> {
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const sealed = await crypto.subtle.encrypt(
      { name: 'AES-GCM', iv, additionalData: this.#aad(kind, this.#selfId, to) as BufferSource },
      key,
      encoder.encode(JSON.stringify(body)) as BufferSource,
    );
    const envelope = { v: VERSION, k: kind, iv: toBase64(iv), ct: toBase64(new Uint8Array(sealed)) };
    await this.#handlers.send(to, JSON.stringify(envelope));
  }

  async #open(
    envelope: { k: Kind; iv: Uint8Array; ct: Uint8Array },
    key: CryptoKey,
    from: string,
  ): Promise<Record<string, unknown> | null> {
    try {
      const plain = await crypto.subtle.decrypt(
        {
          name: 'AES-GCM',
          iv: envelope.iv as BufferSource,
          additionalData: this.#aad(envelope.k, from, this.#selfId) as BufferSource,
        },
        key,
        envelope.ct as BufferSource,
      );
      const body: unknown = JSON.parse(decoder.decode(plain));
      return typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : null;
    } catch {
      return null;
    }
  }

  #aad(kind: Kind, from: string, to: string): Uint8Array {
    return encoder.encode(`${LABEL} ${kind} ${this.#sessionId} ${from} ${to}`);
  }

  async #channelKey(from: string, to: string): Promise<CryptoKey> {
    return aesKey(await hkdf(this.#root, `${LABEL} channel ${from} ${to}`, 32));
  }

  async #pairwiseKey(ecdhSecret: Uint8Array, from: string, to: string): Promise<CryptoKey> {
    return aesKey(await hkdf(ecdhSecret, `${LABEL} pairwise ${from} ${to}`, 32, this.#root));
  }

  #peer(peerId: string): PeerChannel {
    let peer = this.#peers.get(peerId);
    if (!peer) {
      peer = { helloSent: false, theirPublicKey: null, toPeer: null, fromPeer: null };
      this.#peers.set(peerId, peer);
    }
    return peer;
  }
}

/** PBKDF2-SHA-256 of the shared secret, salted with the session id: 32 bytes. */
async function stretchSecret(secret: string | Uint8Array, sessionId: string): Promise<Uint8Array> {
  const bytes = typeof secret === 'string' ? encoder.encode(secret) : secret;
  const base = await crypto.subtle.importKey('raw', bytes as BufferSource, 'PBKDF2', false, ['deriveBits']);
  const bits = await crypto.subtle.deriveBits(
    {
      name: 'PBKDF2',
      hash: 'SHA-256',
      salt: encoder.encode(`${LABEL} root ${sessionId}`),
      iterations: SECRET_STRETCH_ITERATIONS,
    },
    base,
    256,
  );
  return new Uint8Array(bits);
}

function aesKey(bytes: Uint8Array): Promise<CryptoKey> {
  return crypto.subtle.importKey('raw', bytes as BufferSource, 'AES-GCM', false, ['encrypt', 'decrypt']);
}

/** The envelope comes from another browser through the server: accept only the exact shape. */
function parseEnvelope(data: string): { k: Kind; iv: Uint8Array; ct: Uint8Array } | null {
  if (typeof data !== 'string' || data.length > MAX_MESSAGE_CHARS) return null;
  try {
    const value = JSON.parse(data) as Record<string, unknown>;
    if (value?.v !== VERSION || (value.k !== 'hello' && value.k !== 'key' && value.k !== 'ack')) return null;
    if (typeof value.iv !== 'string' || typeof value.ct !== 'string') return null;
    const iv = fromBase64(value.iv);
    if (iv.length !== 12) return null;
    return { k: value.k, iv, ct: fromBase64(value.ct) };
  } catch {
    return null;
  }
}

function isKeyId(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 0xffffffff;
}

function isKeyBody(body: Record<string, unknown>): body is { id: number; m: string } {
  return isKeyId(body.id) && typeof body.m === 'string';
}

export function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

export function fromBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
