/**
 * A small TURN client for tests (RFC 8656 over UDP, TCP or TLS): Allocate with the long-term
 * credential mechanism, CreatePermission, Refresh. Enough to show what coturn refuses; it never
 * sends data towards a peer.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { isIPv6, type Socket, connect as tcpConnect } from 'node:net';
import { type ConnectionOptions, connect as tlsConnect } from 'node:tls';
import {
  Attr,
  type Attribute,
  attribute,
  decodeStun,
  decodeXorAddress,
  encodeStun,
  encodeXorAddress,
  errorCode,
  hasValidFingerprint,
  hasValidIntegrity,
  longTermKey,
  MessageClass,
  Method,
  newTransactionId,
  type StunMessage,
  stunFrameLength,
  type TransportAddress,
} from './stun.ts';

export type TurnTransport = 'udp' | 'tcp' | 'tls';

export interface TurnClientOptions {
  host: string;
  port: number;
  transport?: TurnTransport;
  /** For 'tls'; the test passes its self-signed CA or rejectUnauthorized: false. */
  tls?: ConnectionOptions;
  timeoutMs?: number;
}

export interface Credentials {
  username: string;
  password: string;
}

/** A success, or the STUN error code the server answered with. */
export type TurnResult<T> = ({ ok: true } & T) | { ok: false; code: number; reason: string };

interface Pending {
  resolve(message: StunMessage): void;
  reject(error: Error): void;
}

/** One client 5-tuple: coturn keys an allocation on it, so each allocation needs its own client. */
export class TurnClient {
  readonly #send: (data: Buffer) => void;
  readonly #close: () => void;
  readonly #timeoutMs: number;
  readonly #retransmit: boolean;
  readonly #pending = new Map<string, Pending>();
  #auth: { username: string; realm: string; nonce: Buffer; key: Buffer } | null = null;

  private constructor(transport: TransportHandle, timeoutMs: number, retransmit: boolean) {
    this.#send = transport.send;
    this.#close = transport.close;
    this.#timeoutMs = timeoutMs;
    this.#retransmit = retransmit;
    transport.onMessage = (raw) => this.#receive(raw);
    transport.onError = (err) => this.#failAll(err);
  }

  static async connect(options: TurnClientOptions): Promise<TurnClient> {
    const transport = options.transport ?? 'udp';
    const handle =
      transport === 'udp' ? await openUdp(options.host, options.port) : await openStream(options, transport);
    return new TurnClient(handle, options.timeoutMs ?? 3000, transport === 'udp');
  }

  /** A STUN Binding request; resolves with our address as the server sees it. */
  async binding(): Promise<TransportAddress | null> {
    const response = await this.#transact(Method.binding, []);
    const mapped = attribute(response, Attr.xorMappedAddress);
    return mapped ? decodeXorAddress(mapped, response.transactionId) : null;
  }

  /**
   * Allocate a UDP relay with long-term credentials: the first request draws a 401 carrying the
   * realm and nonce, the second is signed with MD5(username:realm:password).
   */
  async allocate(
    credentials: Credentials,
    options: { family?: 'ipv4' | 'ipv6'; lifetimeSeconds?: number } = {},
  ): Promise<TurnResult<{ relayed: TransportAddress; lifetimeSeconds: number }>> {
    const attrs: Attribute[] = [[Attr.requestedTransport, Buffer.from([17, 0, 0, 0])]];
    if (options.family === 'ipv6') attrs.push([Attr.requestedAddressFamily, Buffer.from([0x02, 0, 0, 0])]);
    if (options.lifetimeSeconds !== undefined) attrs.push([Attr.lifetime, uint32(options.lifetimeSeconds)]);

    const challenge = await this.#transact(Method.allocate, attrs);
    const realm = attribute(challenge, Attr.realm)?.toString('utf8');
    const nonce = attribute(challenge, Attr.nonce);
    if (challenge.messageClass !== MessageClass.error || !realm || !nonce) {
      return { ok: false, code: 0, reason: 'server did not challenge for credentials' };
    }
    const key = longTermKey(credentials.username, realm, credentials.password);
    this.#auth = { username: credentials.username, realm, nonce, key };
    const response = await this.#authenticated(Method.allocate, attrs);
    return this.#result(response, (message) => ({
      relayed: decodeXorAddress(
        attribute(message, Attr.xorRelayedAddress) ?? Buffer.alloc(8),
        message.transactionId,
      ),
      lifetimeSeconds: attribute(message, Attr.lifetime)?.readUInt32BE(0) ?? 0,
    }));
  }

  /** Asks the server to accept traffic from the peer (port is irrelevant to permissions). */
  async createPermission(peerAddress: string): Promise<TurnResult<Record<never, never>>> {
    const attrs = (transactionId: Buffer): Attribute[] => [
      [Attr.xorPeerAddress, encodeXorAddress({ address: peerAddress, port: 9 }, transactionId)],
    ];
    const response = await this.#authenticated(Method.createPermission, attrs);
    return this.#result(response, () => ({}));
  }

  /** Extends the allocation; lifetime 0 releases it (and its slot in the quota). */
  async refresh(lifetimeSeconds: number): Promise<TurnResult<Record<never, never>>> {
    const response = await this.#authenticated(Method.refresh, [[Attr.lifetime, uint32(lifetimeSeconds)]]);
    return this.#result(response, () => ({}));
  }

  release(): Promise<TurnResult<Record<never, never>>> {
    return this.refresh(0);
  }

  close(): void {
    this.#close();
    this.#failAll(new Error('TURN client closed'));
  }

  #result<T>(response: StunMessage, success: (message: StunMessage) => T): TurnResult<T> {
    if (response.messageClass === MessageClass.success) {
      // A success must carry the server's HMAC over our key: proves it shares the secret.
      if (this.#auth && !hasValidIntegrity(response, this.#auth.key)) {
        return { ok: false, code: 0, reason: 'success response without valid MESSAGE-INTEGRITY' };
      }
      return { ok: true, ...success(response) };
    }
    const error = errorCode(response);
    return { ok: false, code: error?.code ?? 0, reason: error?.reason ?? 'no ERROR-CODE' };
  }

  /** Sends a signed request, retrying once with a fresh nonce on 438 Stale Nonce. */
  async #authenticated(
    method: number,
    attrs: Attribute[] | ((transactionId: Buffer) => Attribute[]),
  ): Promise<StunMessage> {
    for (let attempt = 0; ; attempt++) {
      const auth = this.#auth;
      if (!auth) throw new Error('allocate first');
      const transactionId = newTransactionId();
      const base = typeof attrs === 'function' ? attrs(transactionId) : attrs;
      const signed: Attribute[] = [
        ...base,
        [Attr.username, Buffer.from(auth.username)],
        [Attr.realm, Buffer.from(auth.realm)],
        [Attr.nonce, auth.nonce],
      ];
      const response = await this.#transact(method, signed, auth.key, transactionId);
      const nonce = attribute(response, Attr.nonce);
      if (errorCode(response)?.code === 438 && nonce && attempt === 0) {
        auth.nonce = nonce;
        continue;
      }
      return response;
    }
  }

  async #transact(
    method: number,
    attributes: Attribute[],
    integrityKey?: Buffer,
    transactionId: Buffer = newTransactionId(),
  ): Promise<StunMessage> {
    const request = encodeStun({
      method,
      messageClass: MessageClass.request,
      transactionId,
      attributes,
      ...(integrityKey ? { integrityKey } : {}),
      fingerprint: true,
    });
    const id = transactionId.toString('hex');
    const response = new Promise<StunMessage>((resolve, reject) =>
      this.#pending.set(id, { resolve, reject }),
    );
    const attempts = this.#retransmit ? 3 : 1;
    let timer: NodeJS.Timeout | undefined;
    let sent = 0;
    const sendNext = () => {
      if (sent === attempts) {
        this.#pending.get(id)?.reject(new Error(`no STUN response within ${this.#timeoutMs} ms`));
        this.#pending.delete(id);
        return;
      }
      sent++;
      this.#send(request);
      timer = setTimeout(sendNext, this.#timeoutMs / attempts);
    };
    sendNext();
    try {
      return await response;
    } finally {
      clearTimeout(timer);
    }
  }

  #receive(raw: Buffer): void {
    let message: StunMessage;
    try {
      message = decodeStun(raw);
    } catch {
      return; // Not STUN (e.g. ChannelData): nothing this client waits for.
    }
    if (!hasValidFingerprint(message) && attribute(message, Attr.fingerprint)) return;
    const id = message.transactionId.toString('hex');
    const pending = this.#pending.get(id);
    if (!pending) return;
    this.#pending.delete(id);
    pending.resolve(message);
  }

  #failAll(error: Error): void {
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
  }
}

interface TransportHandle {
  send(data: Buffer): void;
  close(): void;
  onMessage: (raw: Buffer) => void;
  onError: (err: Error) => void;
}

function uint32(value: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(value);
  return out;
}

async function openUdp(host: string, port: number): Promise<TransportHandle> {
  const socket: UdpSocket = createSocket(isIPv6(host) ? 'udp6' : 'udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.connect(port, host, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  const handle: TransportHandle = {
    send: (data) => socket.send(data),
    close: () => socket.close(),
    onMessage: () => {},
    onError: () => {},
  };
  socket.on('message', (raw) => handle.onMessage(raw));
  socket.on('error', (err) => handle.onError(err));
  return handle;
}

/** STUN over TCP or TLS: messages back to back, each framed by its own length field. */
async function openStream(options: TurnClientOptions, transport: 'tcp' | 'tls'): Promise<TransportHandle> {
  const socket: Socket =
    transport === 'tls'
      ? tlsConnect({ host: options.host, port: options.port, ...options.tls })
      : tcpConnect({ host: options.host, port: options.port });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.once(transport === 'tls' ? 'secureConnect' : 'connect', () => {
      socket.off('error', reject);
      resolve();
    });
  });
  let buffered = Buffer.alloc(0);
  const handle: TransportHandle = {
    send: (data) => socket.write(data),
    close: () => socket.destroy(),
    onMessage: () => {},
    onError: () => {},
  };
  socket.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    for (let length = stunFrameLength(buffered); length !== null; length = stunFrameLength(buffered)) {
      handle.onMessage(buffered.subarray(0, length));
      buffered = buffered.subarray(length);
    }
  });
  socket.on('error', (err) => handle.onError(err));
  socket.on('close', () => handle.onError(new Error('TURN connection closed')));
  return handle;
}
