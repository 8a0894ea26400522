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
import type { SdpFilter } from '@conclave/server/media/testing/impairment-proxy';
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
  /** Adapts every SDP exchanged with the server (media through an ImpairmentProxy). */
  sdpFilter?: SdpFilter;
}

export interface JoinOptions extends OpenOptions {
  sessionId?: string;
  capabilities?: { e2ee?: boolean; simulcast?: boolean };
  resume?: { connectionId: string; resumeToken: string };
}

/** Subscriber connection rebuilds per client after a failed setup (see restartAfterFailedSetup). */
const MAX_SETUP_RESTARTS = 2;

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
  /** Subscriber connections rebuilt because they failed before ever connecting (see restartAfterFailedSetup). */
  subscriberRestarts = 0;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private readonly waiters = new Set<() => void>();
  private offerChain: Promise<void> = Promise.resolve();
  private readonly restartedPeers = new WeakSet<SubscriberPeer>();

  private constructor(
    readonly ws: WebSocket,
    private readonly sdpFilter: SdpFilter = { fromServer: (sdp) => sdp, toServer: (sdp) => sdp },
  ) {
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
    const client = new NodeClient(ws, options.sdpFilter);
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
    options: {
      kind?: 'audio' | 'video';
      source?: StreamSource;
      name?: string;
      send?: SendOptions;
      /** Audio: send the audio level extension (level set with `peer.setAudioLevel()`, silence until then). */
      audioLevel?: boolean;
      /** Number every packet with a transport-wide sequence number, as a browser does. */
      transportCc?: boolean;
    } = {},
  ): Promise<Publication> {
    const kind = options.kind ?? 'video';
    const peer = await createPublisherPeer({
      kind,
      audioLevelExtension: options.audioLevel === true,
      transportCcExtension: options.transportCc === true,
    });
    try {
      const { streamId, sdp } = await this.request<'publish'>({
        type: 'publish',
        kind,
        source: options.source ?? (kind === 'video' ? 'camera' : 'microphone'),
        ...(options.name !== undefined ? { name: options.name } : {}),
        sdp: this.sdpFilter.toServer(peer.offer),
      });
      await peer.setAnswer(this.sdpFilter.fromServer(sdp));
      this.trickle(streamId, peer);
      peer.start(options.send);
      this.publications.set(streamId, peer);
      return { streamId, peer };
    } catch (err) {
      await peer.close();
      throw err;
    }
  }

  /**
   * Rebuilds a publication's connection as after a network change (restartIce): a new peer
   * offers under the same stream id, the old one is closed.
   */
  async restartPublication(streamId: string, send?: SendOptions): Promise<PublisherPeer> {
    const old = this.publications.get(streamId);
    if (!old) throw new Error(`not publishing ${streamId}`);
    // As the browser SDK does: the old connection is closed only once the new one is answered
    // (an orderly close reaching the SFU first would end the stream).
    old.stop();
    const peer = await createPublisherPeer({ kind: old.kind });
    try {
      const { sdp } = await this.request<'restartIce'>({
        type: 'restartIce',
        target: streamId,
        sdp: this.sdpFilter.toServer(peer.offer),
      });
      await peer.setAnswer(this.sdpFilter.fromServer(sdp ?? ''));
      this.trickle(streamId, peer);
      peer.start(send);
      this.publications.set(streamId, peer);
      return peer;
    } catch (err) {
      await peer.close();
      throw err;
    } finally {
      await old.close();
    }
  }

  /**
   * Sends the publisher peer's candidates after its answer is applied, as the browser SDK does
   * (the offer carries none, see withoutCandidates in rtp-peer.ts).
   */
  private trickle(streamId: string, peer: PublisherPeer): void {
    for (const candidate of peer.candidates) {
      this.sendJson({ type: 'candidate', target: streamId, candidate: { candidate, sdpMid: '0' } });
    }
  }

  /** Rebuilds the subscriber connection (restartIce): the server's next offer goes to a new peer. */
  async restartSubscriber(): Promise<void> {
    const old = this.subscriberPeer;
    this.subscriberPeer = null;
    await this.request<'restartIce'>({ type: 'restartIce', target: 'subscriber' });
    await old?.close();
  }

  /**
   * Subscribes; the subscriber connection's offers are answered in the background. The peer
   * returned is replaced if its setup fails (see restartAfterFailedSetup); packetsOn() follows the
   * current one.
   */
  async subscribe(streamId: string): Promise<{ mid: string; peer: SubscriberPeer }> {
    const peer = await this.subscriberPeerOrNew();
    const { mid } = await this.request<'subscribe'>({ type: 'subscribe', streamId });
    return { mid, peer: this.subscriberPeer ?? peer };
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
      let peer: SubscriberPeer | undefined;
      try {
        peer = await this.subscriberPeerOrNew();
        const answer = await peer.answer(this.sdpFilter.fromServer(sdp));
        await this.request<'subscriberAnswer'>({
          type: 'subscriberAnswer',
          sdp: this.sdpFilter.toServer(answer),
        });
      } catch (err) {
        // The SFU refuses the answer (sdp_invalid) when the race has failed the connection while
        // it applied it; the restart below is the answer to that, not an error of the offer.
        if (!(peer && this.restartAfterFailedSetup(peer))) this.offerErrors.push(err as Error);
      }
    });
  }

  private async subscriberPeerOrNew(): Promise<SubscriberPeer> {
    if (this.subscriberPeer) return this.subscriberPeer;
    const peer = await createSubscriberPeer();
    if (this.subscriberPeer) {
      await peer.close();
      return this.subscriberPeer;
    }
    this.subscriberPeer = peer;
    peer.onSetupFailure(() => this.restartAfterFailedSetup(peer));
    return peer;
  }

  /**
   * The browser SDK rebuilds a subscriber connection that fails (restartIce); this client does
   * it, at most MAX_SETUP_RESTARTS times, for one that fails before ever connecting. That is how
   * a browser gets past libdatachannel 0.24.5 failing the SFU's DTLS handshake when the answer
   * reaches the SFU's ICE agent before its fingerprint check (the SFU offers this connection, so
   * the peer cannot hold back its checks as the publisher peer does; see withoutCandidates in
   * rtp-peer.ts). True when a restart is under way for `peer`.
   */
  private restartAfterFailedSetup(peer: SubscriberPeer): boolean {
    if (this.restartedPeers.has(peer)) return true;
    if (!peer.setupFailed() || this.subscriberPeer !== peer) return false;
    if (this.subscriberRestarts >= MAX_SETUP_RESTARTS || this.ws.readyState !== WebSocket.OPEN) return false;
    this.restartedPeers.add(peer);
    this.subscriberRestarts++;
    this.restartSubscriber().catch(() => {});
    return true;
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}
