/**
 * A participant in Node: joins through the real signaling WebSocket with a token, records every
 * event, and with node-datachannel peers publishes synthetic RTP or subscribes and counts
 * packets. Tests and benchmarks drive the server through it exactly as a browser would.
 */
import type { ErrorCode } from '@conclave/protocol/errors';
import {
  type ClientMessage,
  type ReplyResults,
  type RequestType,
  type ServerMessage,
  type ServerMessageOf,
  type ServerMessageType,
  SIGNALING_PATH,
  SIGNALING_PROTOCOL_VERSION,
  type StreamSource,
} from '@conclave/protocol/signaling';
import {
  createPublisherPeer,
  createSubscriberPeer,
  type PublisherPeer,
  type SendOptions,
  type SubscriberPeer,
} from '@conclave/server/media/testing/rtp-peer';
import WebSocket from 'ws';

/** A signaling `error` answered to a request, as a rejection. */
export class SignalingError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

export interface CloseInfo {
  code: number;
  reason: string;
}

export interface OpenOptions {
  /** Sent as the Origin header, as a browser would. */
  origin?: string;
  /** Appended to the URL path (tests that try a token in the query). */
  query?: string;
  /** false: never answer the server's pings (a peer that went silent). */
  autoPong?: boolean;
}

export interface JoinOptions extends OpenOptions {
  sessionId?: string;
  capabilities?: { e2ee?: boolean; simulcast?: boolean };
  resume?: { connectionId: string; resumeToken: string };
}

type RequestMessage = Extract<ClientMessage, { type: RequestType }>;
type WithoutId<M> = M extends unknown ? Omit<M, 'id'> : never;

export interface Publication {
  streamId: string;
  peer: PublisherPeer;
}

export class NodeClient {
  /** Every server message that is not a reply, in arrival order. */
  readonly events: ServerMessage[] = [];
  /** Resolves when the WebSocket closes. */
  readonly closed: Promise<CloseInfo>;
  joined: ReplyResults['join'] | null = null;
  subscriberPeer: SubscriberPeer | null = null;
  readonly publications = new Map<string, PublisherPeer>();
  /** Errors of offers the client failed to answer (a test fails on them). */
  readonly offerErrors: Error[] = [];
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private readonly waiters = new Set<() => void>();
  private offerChain: Promise<void> = Promise.resolve();

  private constructor(readonly ws: WebSocket) {
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        for (const { reject } of this.pending.values()) reject(new Error(`socket closed (${code})`));
        this.pending.clear();
        resolve({ code, reason: reason.toString() });
        this.notify();
      });
    });
    ws.on('error', () => {});
    ws.on('message', (data, isBinary) => {
      if (!isBinary) this.onMessage(JSON.parse(data.toString()) as ServerMessage);
    });
  }

  /** Opens the WebSocket without joining (tests of what the server does before authentication). */
  static async open(baseUrl: string, options: OpenOptions = {}): Promise<NodeClient> {
    const url = `${baseUrl.replace(/^http/, 'ws')}${SIGNALING_PATH}${options.query ?? ''}`;
    const ws = new WebSocket(url, {
      perMessageDeflate: false,
      autoPong: options.autoPong ?? true,
      ...(options.origin ? { headers: { origin: options.origin } } : {}),
    });
    const client = new NodeClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
      ws.once('error', reject);
    });
    return client;
  }

  /** Opens and joins; rejects with SignalingError when the join is refused. */
  static async connect(baseUrl: string, token: string, options: JoinOptions = {}): Promise<NodeClient> {
    const client = await NodeClient.open(baseUrl, options);
    try {
      await client.join(token, options);
    } catch (err) {
      client.drop();
      throw err;
    }
    return client;
  }

  async join(token: string, options: JoinOptions = {}): Promise<ReplyResults['join']> {
    this.joined = await this.request<'join'>({
      type: 'join',
      token,
      protocol: SIGNALING_PROTOCOL_VERSION,
      sdk: { name: 'conclave-node-test-client', version: '0.1.0' },
      ...(options.sessionId ? { sessionId: options.sessionId } : {}),
      ...(options.capabilities ? { capabilities: options.capabilities } : {}),
      ...(options.resume ? { resume: options.resume } : {}),
    });
    return this.joined;
  }

  get connectionId(): string {
    if (!this.joined) throw new Error('not joined');
    return this.joined.connectionId;
  }

  /** Sends a request with the next id and resolves with its reply's result. */
  request<T extends RequestType>(
    message: WithoutId<Extract<RequestMessage, { type: T }>>,
  ): Promise<ReplyResults[T]> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.sendJson({ ...message, id });
    });
  }

  sendJson(value: unknown): void {
    this.sendRaw(JSON.stringify(value));
  }

  sendRaw(data: string | Buffer, binary = false): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(data, { binary });
  }

  /** Publishes a synthetic track: offer from a node-datachannel peer, answer from the SFU, RTP flowing. */
  async publish(
    options: { kind?: 'audio' | 'video'; source?: StreamSource; name?: string; send?: SendOptions } = {},
  ): Promise<Publication> {
    const kind = options.kind ?? 'video';
    const peer = await createPublisherPeer({ kind });
    try {
      const { streamId, sdp } = await this.request<'publish'>({
        type: 'publish',
        kind,
        source: options.source ?? (kind === 'video' ? 'camera' : 'microphone'),
        ...(options.name !== undefined ? { name: options.name } : {}),
        sdp: peer.offer,
      });
      await peer.setAnswer(sdp);
      peer.start(options.send);
      this.publications.set(streamId, peer);
      return { streamId, peer };
    } catch (err) {
      await peer.close();
      throw err;
    }
  }

  /** Subscribes; the subscriber connection's offers are answered in the background. */
  async subscribe(streamId: string): Promise<{ mid: string; peer: SubscriberPeer }> {
    this.subscriberPeer ??= await createSubscriberPeer();
    const { mid } = await this.request<'subscribe'>({ type: 'subscribe', streamId });
    return { mid, peer: this.subscriberPeer };
  }

  /** Packets received so far on the media section that carries `mid`. */
  packetsOn(mid: string): number {
    return this.subscriberPeer?.streamForMid(mid)?.packets ?? 0;
  }

  signal(signalType: string, data: string, to?: string[]): Promise<ReplyResults['signal']> {
    return this.request<'signal'>({ type: 'signal', signalType, data, ...(to ? { to } : {}) });
  }

  refreshToken(token: string): Promise<ReplyResults['refreshToken']> {
    return this.request<'refreshToken'>({ type: 'refreshToken', token });
  }

  async leave(): Promise<void> {
    await this.request<'leave'>({ type: 'leave' });
    await this.closed;
    await this.closePeers();
  }

  /** Drops the WebSocket without `leave` (resumable on the server side); peers stay up. */
  drop(): void {
    this.ws.terminate();
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(1000);
    await this.closePeers();
  }

  async closePeers(): Promise<void> {
    for (const peer of this.publications.values()) await peer.close();
    this.publications.clear();
    await this.subscriberPeer?.close();
    this.subscriberPeer = null;
  }

  /** The first event of `type` (already received or still to come) that matches. */
  waitFor<T extends ServerMessageType>(
    type: T,
    match: (message: ServerMessageOf<T>) => boolean = () => true,
    timeoutMs = 10_000,
  ): Promise<ServerMessageOf<T>> {
    const find = () =>
      this.events.find((e): e is ServerMessageOf<T> => e.type === type && match(e as ServerMessageOf<T>));
    return this.until(find, timeoutMs, `a ${type} event`);
  }

  /** Polls `probe` on every message and every 20 ms until it returns something. */
  until<R>(probe: () => R | undefined | false, timeoutMs: number, what: string): Promise<R> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = probe();
        if (found === undefined || found === false) return;
        finish();
        resolve(found);
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`timed out waiting for ${what}`));
      }, timeoutMs);
      const poll = setInterval(check, 20);
      const finish = () => {
        clearTimeout(timer);
        clearInterval(poll);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  eventsOf<T extends ServerMessageType>(type: T): ServerMessageOf<T>[] {
    return this.events.filter((e): e is ServerMessageOf<T> => e.type === type);
  }

  private onMessage(message: ServerMessage): void {
    if (message.type === 'reply' || (message.type === 'error' && message.id !== undefined)) {
      const waiter = this.pending.get(message.id as number);
      if (waiter) {
        this.pending.delete(message.id as number);
        if (message.type === 'reply') waiter.resolve(message.result);
        else waiter.reject(new SignalingError(message.error.code, message.error.message));
        this.notify();
        return;
      }
    }
    this.events.push(message);
    if (message.type === 'subscriberOffer') this.answerOffer(message.sdp);
    this.notify();
  }

  /** Answers subscriber offers one after another, in the order they came. */
  private answerOffer(sdp: string): void {
    this.offerChain = this.offerChain.then(async () => {
      try {
        this.subscriberPeer ??= await createSubscriberPeer();
        const answer = await this.subscriberPeer.answer(sdp);
        await this.request<'subscriberAnswer'>({ type: 'subscriberAnswer', sdp: answer });
      } catch (err) {
        this.offerErrors.push(err as Error);
      }
    });
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}
