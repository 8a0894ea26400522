/**
 * A participant's connection to one Conclave session: signaling, publishers, subscriptions,
 * reconnection. Partners use only this, Publisher and Subscriber; they never see SDP or ICE.
 *
 *   const session = await Session.connect('https://video.example.com', token);
 *   session.on('streamCreated', (stream) => session.subscribe(stream));
 *   await session.publish({ audio: true, video: true, name: 'Alice' });
 */
import type {
  ActiveSpeaker,
  ConnectionInfo,
  ReplyResults,
  ServerMessage,
  ServerMessageOf,
  ServerMessageType,
  StreamInfo,
} from '@conclave/protocol/signaling';
import {
  SIGNALING_LIMITS,
  SIGNALING_PATH,
  SIGNALING_PROTOCOL_VERSION,
} from '@conclave/protocol/signaling-constants';
import { backoffDelay } from './backoff.ts';
import { E2EE_SIGNAL, E2eeController } from './e2ee/controller.ts';
import {
  type DecryptionFailedEvent,
  type E2eeOptions,
  e2eeSupported,
  validateE2eeOptions,
} from './e2ee/options.ts';
import { TypedEmitter } from './emitter.ts';
import { ConclaveClientError } from './errors.ts';
import type { SessionPort } from './port.ts';
import { Publisher, type PublishOptions } from './publisher.ts';
import { RelayedMedia } from './relayed.ts';
import { generateCertificate, type RtcSettings, rtcConfiguration } from './rtc.ts';
import { SignalingChannel } from './signaling-channel.ts';
import { type SimulcastLayer, Subscriber, SubscriberConnection } from './subscriber.ts';

export const SDK_VERSION = '0.1.0';

export interface ConnectOptions {
  /** The session the page means to join; a token for another session is refused. */
  sessionId?: string;
  /**
   * Called shortly before the token expires: fetch a fresh token for the same session and
   * identity from your back-end. Without it the server ends the connection at expiry.
   */
  onTokenExpiring?: () => Promise<string>;
  /** 'relay' forces media through TURN (the join reply's credentials). */
  iceTransportPolicy?: RTCIceTransportPolicy;
  /** ICE servers added to the ones the server hands out. */
  iceServers?: RTCIceServer[];
  /** Give up reconnecting after this long (default 60 s). */
  reconnectTimeoutMs?: number;
  /**
   * End-to-end encryption: frames are encrypted in the browser with keys the server never
   * sees. Required to join a session created with `e2ee: true`; when given, media is always
   * encrypted, whatever the server says about the session.
   */
  e2ee?: E2eeOptions;
}

export interface SignalEvent {
  type: string;
  data: string;
  /** Sender connection id; null when the partner's back-end sent it through the REST API. */
  from: string | null;
}

export type DisconnectReason = 'left' | 'kicked' | 'expired' | 'revoked' | 'replaced' | 'failed';

export type SessionEvents = {
  connectionCreated: [connection: ConnectionInfo];
  connectionDestroyed: [connection: ConnectionInfo, reason: string];
  streamCreated: [stream: StreamInfo];
  streamDestroyed: [stream: StreamInfo, reason: string];
  streamUpdated: [stream: StreamInfo];
  /**
   * Who speaks now (routed sessions): the dominant speaker first, then the others, loudest first;
   * empty when everyone is silent. Your own microphone is included when it speaks.
   */
  activeSpeakersChanged: [speakers: ActiveSpeaker[]];
  signal: [signal: SignalEvent];
  /** The signaling connection dropped; the SDK is trying to get back. */
  reconnecting: [];
  /** Back. `resumed` is false when the server had to start over (streams were published again). */
  reconnected: [info: { resumed: boolean }];
  disconnected: [info: { reason: DisconnectReason; error?: ConclaveClientError }];
  /** An error not tied to a call the page made (a refused message, a failed republish). */
  error: [error: ConclaveClientError];
  /** E2EE: frames or key messages of a participant did not decrypt (at most once a second per reason). */
  decryptionFailed: [event: DecryptionFailedEvent];
};

type JoinResult = ReplyResults['join'];

/** Wait between attempts to get a fresh token from the page's callback. */
const TOKEN_REFRESH_RETRY_MS = 5_000;

/** Close codes after which reconnecting cannot help: the token or the participant was refused. */
function isFinalClose(code: number): boolean {
  return (code >= 4000 && code < 5000) || code === 1008 || code === 1009;
}

function reasonOfClose(code: number): DisconnectReason {
  switch (code) {
    case 4002:
      return 'expired';
    case 4003:
      return 'revoked';
    case 4008:
      return 'replaced';
    case 4009:
      return 'kicked';
    default:
      return 'failed';
  }
}

function signalingUrl(url: string): string {
  const parsed = new URL(url, globalThis.location?.href);
  if (parsed.protocol === 'http:') parsed.protocol = 'ws:';
  if (parsed.protocol === 'https:') parsed.protocol = 'wss:';
  if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') {
    throw new ConclaveClientError('invalid_argument', 'The server URL must be http(s):// or ws(s)://');
  }
  if (parsed.pathname === '/' || parsed.pathname === '') parsed.pathname = SIGNALING_PATH;
  return parsed.toString();
}

function assertEnvironment(): void {
  if (globalThis.isSecureContext !== true) {
    throw new ConclaveClientError(
      'insecure_context',
      'Conclave needs a secure context: serve the page over https:// (or http://localhost in development)',
    );
  }
  if (typeof RTCPeerConnection === 'undefined' || typeof WebSocket === 'undefined') {
    throw new ConclaveClientError('webrtc_failed', 'This browser does not support WebRTC');
  }
}

export class Session extends TypedEmitter<SessionEvents> {
  readonly sessionId: string;
  readonly mediaMode: 'routed' | 'relayed';
  readonly #url: string;
  readonly #options: ConnectOptions;
  readonly #settings: RtcSettings;
  #token: string;
  #channel: SignalingChannel;
  #join: JoinResult;
  readonly #connections = new Map<string, ConnectionInfo>();
  readonly #streams = new Map<string, StreamInfo>();
  readonly #publishers = new Set<Publisher>();
  #activeSpeakers: readonly ActiveSpeaker[] = [];
  readonly #subscriberConnection: SubscriberConnection;
  readonly #relayed: RelayedMedia | null;
  readonly #e2ee: E2eeController | null;
  #state: 'connected' | 'reconnecting' | 'disconnected' = 'connected';
  readonly #port: SessionPort;

  private constructor(
    url: string,
    token: string,
    options: ConnectOptions,
    channel: SignalingChannel,
    join: JoinResult,
    certificates: RTCCertificate[] | undefined,
  ) {
    super();
    this.#url = url;
    this.#token = token;
    this.#options = options;
    this.#settings = {
      iceServers: options.iceServers ?? [],
      iceTransportPolicy: options.iceTransportPolicy ?? 'all',
      ...(certificates ? { certificates } : {}),
    };
    this.#channel = channel;
    this.#join = join;
    this.sessionId = join.session.sessionId;
    this.mediaMode = join.session.mediaMode;
    this.#e2ee = options.e2ee ? this.#startE2ee(options.e2ee, join) : null;
    const protection = this.#e2ee?.protection ?? null;
    this.#port = {
      request: (type, body) => this.#channel.request(type, body),
      send: (message) => this.#channel.send(message),
      rtcConfiguration: () => ({
        ...rtcConfiguration(this.#join.iceServers, this.#settings),
        ...protection?.rtcConfiguration,
      }),
      protection,
    };
    this.#subscriberConnection = new SubscriberConnection(this.#port);
    this.#subscriberConnection.onPathDead = () => void this.#restartSubscriberConnection();
    this.#relayed = this.mediaMode === 'relayed' ? new RelayedMedia(this.#port, join.connectionId) : null;
    this.#relayed?.on('streamCreated', (stream) => this.#addStream(stream));
    this.#relayed?.on('streamDestroyed', (streamId) => this.#removeStream(streamId, 'unpublished'));
    this.#watch(channel);
    if (!this.#relayed && join.grants.includes('subscribe')) this.#subscriberConnection.prepare();
  }

  /**
   * Connects with a participant token from the partner's back-end. The token travels in the
   * first WebSocket message (`join`), never in the URL. Participants and streams already in the
   * session are announced with connectionCreated and streamCreated events right after this
   * resolves, so listeners attached at once see them.
   */
  static async connect(url: string, token: string, options: ConnectOptions = {}): Promise<Session> {
    assertEnvironment();
    if (typeof token !== 'string' || token.length === 0) {
      throw new ConclaveClientError('invalid_argument', 'A participant token is required');
    }
    assertE2eePossible(options.e2ee);
    const wsUrl = signalingUrl(url);
    const certificates = generateCertificate();
    const channel = await SignalingChannel.open(wsUrl);
    let join: JoinResult;
    try {
      join = await channel.request('join', joinBody(token, options.sessionId, !!options.e2ee));
      // The server refuses this already; an SDK never sends media in clear into an E2EE session.
      if (join.session.e2ee && !options.e2ee) {
        throw new ConclaveClientError('e2ee_unsupported', 'This session requires end-to-end encryption');
      }
    } catch (error) {
      channel.close();
      throw error;
    }
    const session = new Session(wsUrl, token, options, channel, join, await certificates);
    setTimeout(() => session.#announce(join), 0);
    return session;
  }

  get connectionId(): string {
    return this.#join.connectionId;
  }

  get connectionData(): string | undefined {
    return this.#connections.get(this.connectionId)?.data;
  }

  get role(): JoinResult['role'] {
    return this.#join.role;
  }

  get grants(): JoinResult['grants'] {
    return this.#join.grants;
  }

  get state(): 'connected' | 'reconnecting' | 'disconnected' {
    return this.#state;
  }

  /** Other participants' connections, as known now. */
  get connections(): ConnectionInfo[] {
    return [...this.#connections.values()];
  }

  /** Other participants' streams, as known now. */
  get streams(): StreamInfo[] {
    return [...this.#streams.values()];
  }

  get publishers(): Publisher[] {
    return [...this.#publishers];
  }

  get subscribers(): Subscriber[] {
    return this.#relayed ? this.#relayed.subscribers : this.#subscriberConnection.subscribers;
  }

  /** Captures and publishes; rejects with `publish_not_allowed` for a subscriber-only token. */
  async publish(options: PublishOptions): Promise<Publisher> {
    this.#assertConnected();
    if (!this.#join.grants.includes('publish')) {
      throw new ConclaveClientError('publish_not_allowed', 'This token may not publish');
    }
    const publisher = this.#relayed
      ? await this.#relayed.publish(options)
      : await Publisher.create(this.#port, options);
    this.#publishers.add(publisher);
    publisher.onDestroyed = () => this.#publishers.delete(publisher);
    return publisher;
  }

  async unpublish(publisher: Publisher): Promise<void> {
    await publisher.unpublish();
  }

  /**
   * Receives a stream. Media goes into `element` when given (a <video> for video, an <audio>
   * for audio), otherwise into an element the Subscriber creates; insert it into the page.
   */
  async subscribe(stream: StreamInfo, element?: HTMLMediaElement): Promise<Subscriber> {
    this.#assertConnected();
    if (this.#relayed) return this.#relayed.subscribe(stream, element);
    const existing = this.#subscriberConnection.subscriberOf(stream.streamId);
    if (existing) return existing;
    const subscriber = new Subscriber(stream, element);
    subscriber.onUnsubscribe = (s) => this.#unsubscribe(s);
    subscriber.onPreferredLayer = (s, layer) => this.#sendPreferredLayer(s.stream.streamId, layer);
    this.#subscriberConnection.add(subscriber);
    try {
      const reply = await this.#channel.request('subscribe', { streamId: stream.streamId });
      this.#subscriberConnection.assign(reply.streamId, reply.mid);
    } catch (error) {
      this.#subscriberConnection.remove(stream.streamId);
      subscriber.destroy();
      throw error;
    }
    return subscriber;
  }

  /** Sends a small message to everyone else, or to the given connection ids. */
  async signal(message: { type: string; data?: string; to?: string[] }): Promise<void> {
    this.#assertConnected();
    await this.#channel.request('signal', {
      signalType: message.type,
      data: message.data ?? '',
      ...(message.to ? { to: message.to } : {}),
    });
  }

  /** Statistics of every connection this participant has. */
  async getStats(): Promise<{
    publishers: { streamId: string | null; source: string; report: RTCStatsReport | null }[];
    subscriber: RTCStatsReport | null;
  }> {
    const publishers = (await Promise.all(this.publishers.map((p) => p.getStats()))).flat();
    const subscriber = this.#relayed
      ? await this.#relayed.getStats()
      : await this.#subscriberConnection.getStats();
    return { publishers, subscriber };
  }

  /** Leaves the session: others see connectionDestroyed at once; nothing is resumed. */
  async disconnect(): Promise<void> {
    if (this.#state === 'disconnected') return;
    const channel = this.#channel;
    if (channel.isOpen) {
      await Promise.race([channel.request('leave', {}).catch(() => undefined), delay(1000)]);
    }
    this.#end({ reason: 'left' });
  }

  // -------------------------------------------------------------------------------------------
  // Server messages: one small handler per type.

  #watch(channel: SignalingChannel): void {
    channel.on('message', (message) => this.#onMessage(message));
    channel.on('close', (code) => this.#onChannelClose(channel, code));
  }

  /** One small handler per server event; replies never get here (the channel settles them). */
  readonly #handlers: { [T in ServerMessageType]?: (message: ServerMessageOf<T>) => void } = {
    connectionCreated: (m) => this.#addConnection(m.connection),
    connectionDestroyed: (m) => this.#removeConnection(m.connectionId, m.reason),
    streamCreated: (m) => this.#addStream(m.stream),
    streamDestroyed: (m) => this.#removeStream(m.streamId, m.reason),
    streamUpdated: (m) => this.#updateStream(m),
    subscriberOffer: (m) => {
      this.#subscriberConnection.onOffer(m).catch((e) => this.#report(e));
    },
    consumerClosed: (m) => this.#subscriberConnection.onConsumerClosed(m),
    layersWanted: (m) => {
      for (const publisher of this.#publishers)
        publisher.setLayersWanted(m.streamId, m.rids).catch((e) => this.#report(e));
    },
    activeSpeakers: (m) => this.#setActiveSpeakers(m.speakers),
    streamPaused: (m) => this.#subscriberConnection.subscriberOf(m.streamId)?.setPaused(true),
    streamResumed: (m) => this.#subscriberConnection.subscriberOf(m.streamId)?.setPaused(false),
    signal: (m) => this.#onSignal(m),
    tokenExpiring: (m) => {
      void this.#refreshToken(Date.parse(m.expiresAt));
    },
    relay: (m) => this.#relayed?.onRelay(m),
    error: (m) => this.#report(ConclaveClientError.fromServer(m.error)),
  };

  #onMessage(message: ServerMessage): void {
    const handler = this.#handlers[message.type] as ((m: ServerMessage) => void) | undefined;
    handler?.(message);
  }

  #addConnection(connection: ConnectionInfo): void {
    if (connection.connectionId === this.connectionId) return;
    const known = this.#connections.has(connection.connectionId);
    this.#connections.set(connection.connectionId, connection);
    if (!known) {
      this.#e2ee?.onPeerJoined(connection.connectionId);
      this.emit('connectionCreated', connection);
      this.#relayed?.onPeerJoined(connection.connectionId);
    }
  }

  #removeConnection(connectionId: string, reason: string): void {
    const connection = this.#connections.get(connectionId);
    if (!connection) return;
    for (const stream of this.#streams.values()) {
      if (stream.connectionId === connectionId) this.#removeStream(stream.streamId, 'left');
    }
    this.#relayed?.onPeerLeft(connectionId);
    this.#e2ee?.onPeerLeft(connectionId);
    this.#connections.delete(connectionId);
    this.emit('connectionDestroyed', connection, reason);
  }

  #addStream(stream: StreamInfo): void {
    if (stream.connectionId === this.connectionId || this.#streams.has(stream.streamId)) return;
    this.#streams.set(stream.streamId, stream);
    this.emit('streamCreated', stream);
  }

  #removeStream(streamId: string, reason: string): void {
    const stream = this.#streams.get(streamId);
    if (!stream) return;
    this.#streams.delete(streamId);
    this.#subscriberConnection.remove(streamId)?.destroy();
    this.emit('streamDestroyed', stream, reason);
  }

  #updateStream(message: ServerMessageOf<'streamUpdated'>): void {
    const stream = this.#streams.get(message.streamId);
    if (!stream) return;
    stream.subscriberCount = message.subscriberCount;
    this.emit('streamUpdated', stream);
  }

  /** The latest `activeSpeakersChanged` list (empty until the server reports one). */
  get activeSpeakers(): readonly ActiveSpeaker[] {
    return this.#activeSpeakers;
  }

  #setActiveSpeakers(speakers: ActiveSpeaker[]): void {
    const copy = speakers.map(({ connectionId, streamId, level }) => ({ connectionId, streamId, level }));
    this.#activeSpeakers = Object.freeze(copy.map((s) => Object.freeze({ ...s })));
    this.emit('activeSpeakersChanged', copy);
  }

  #onSignal(message: ServerMessageOf<'signal'>): void {
    if (this.#e2ee?.onSignal(message.from, message.signalType, message.data)) return;
    if (this.#relayed?.onSignal(message)) return;
    this.emit('signal', { type: message.signalType, data: message.data, from: message.from });
  }

  /**
   * Asks the page for a fresh token before this one expires. A failed attempt (the back-end was
   * unreachable, or refused) is retried while time remains; once the token expires the server
   * closes the connection and the session ends with reason `expired`.
   */
  async #refreshToken(expiresAt: number): Promise<void> {
    const fetchToken = this.#options.onTokenExpiring;
    if (!fetchToken || this.#state === 'disconnected') return;
    try {
      const token = await fetchToken();
      await this.#channel.request('refreshToken', { token });
      this.#token = token;
    } catch (error) {
      const retryIn = Math.min(TOKEN_REFRESH_RETRY_MS, (expiresAt - Date.now()) / 2);
      if (retryIn >= 1_000) setTimeout(() => void this.#refreshToken(expiresAt), retryIn);
      this.#report(error);
    }
  }

  async #unsubscribe(subscriber: Subscriber): Promise<void> {
    const streamId = subscriber.stream.streamId;
    this.#subscriberConnection.remove(streamId);
    subscriber.destroy();
    await this.#channel.request('unsubscribe', { streamId }).catch(() => undefined);
  }

  /** Emits what was already there when this participant joined. */
  #announce(join: JoinResult): void {
    for (const connection of join.connections) this.#addConnection(connection);
    for (const stream of join.streams) this.#addStream(stream);
  }

  // -------------------------------------------------------------------------------------------
  // Reconnection

  #onChannelClose(channel: SignalingChannel, code: number): void {
    if (channel !== this.#channel || this.#state !== 'connected') return;
    if (isFinalClose(code)) {
      const reason = reasonOfClose(code);
      this.#end({
        reason,
        error: new ConclaveClientError('connection_failed', `Disconnected by the server (${reason})`),
      });
      return;
    }
    void this.#reconnect(true);
  }

  /**
   * Gets the signaling connection back. Within the server's resume window the same participant
   * resumes (streams and subscriptions survive); after it, or when `resume` is false, the SDK
   * joins afresh and publishes and subscribes again.
   */
  async #reconnect(resume: boolean): Promise<void> {
    this.#state = 'reconnecting';
    this.emit('reconnecting');
    const started = Date.now();
    const giveUpAt = started + (this.#options.reconnectTimeoutMs ?? 60_000);
    for (let attempt = 0; Date.now() < giveUpAt; attempt++) {
      if (this.#state !== 'reconnecting') return;
      if (attempt > 0) await delay(backoffDelay(attempt - 1));
      const withinWindow = resume && Date.now() - started < SIGNALING_LIMITS.resumeWindowMs;
      const outcome = await this.#tryRejoin(withinWindow);
      if (outcome === 'retry') continue;
      if (outcome instanceof ConclaveClientError) {
        this.#end({ reason: 'failed', error: outcome });
        return;
      }
      await this.#afterRejoin(outcome);
      return;
    }
    this.#end({
      reason: 'failed',
      error: new ConclaveClientError('connection_failed', 'Could not reconnect'),
    });
  }

  async #tryRejoin(resume: boolean): Promise<JoinResult | 'retry' | ConclaveClientError> {
    let channel: SignalingChannel;
    try {
      channel = await SignalingChannel.open(this.#url);
    } catch {
      return 'retry';
    }
    const body = joinBody(this.#token, this.sessionId, this.#e2ee !== null);
    if (resume) body.resume = { connectionId: this.#join.connectionId, resumeToken: this.#join.resumeToken };
    try {
      const join = await channel.request('join', body);
      if (this.#state !== 'reconnecting') {
        channel.close();
        return 'retry';
      }
      this.#channel = channel;
      this.#watch(channel);
      return join;
    } catch (error) {
      channel.close();
      if (error instanceof ConclaveClientError && error.code.startsWith('token_')) return error;
      if (error instanceof ConclaveClientError && error.code === 'session_not_found') return error;
      return 'retry';
    }
  }

  async #afterRejoin(join: JoinResult): Promise<void> {
    this.#join = join;
    this.#state = 'connected';
    this.#reconcile(join);
    if (!join.resumed) {
      // A new participant as far as the server is concerned: nothing of ours survived.
      this.#relayed?.reset(join.connectionId);
      this.#e2ee?.reset(join.connectionId);
      this.#subscriberConnection.reset();
      await Promise.all(
        this.publishers.map((p) => p.republish(undefined, true).catch((e) => this.#report(e))),
      );
      await this.#resubscribeAll();
    }
    this.emit('reconnected', { resumed: join.resumed });
  }

  /** Brings the local view in line with the join reply: what ended meanwhile, what is new. */
  #reconcile(join: JoinResult): void {
    const liveStreams = new Set(join.streams.map((s) => s.streamId));
    const liveConnections = new Set(join.connections.map((c) => c.connectionId));
    for (const stream of [...this.#streams.values()]) {
      if (!liveStreams.has(stream.streamId)) this.#removeStream(stream.streamId, 'left');
    }
    for (const connection of [...this.#connections.values()]) {
      if (!liveConnections.has(connection.connectionId))
        this.#removeConnection(connection.connectionId, 'dropped');
    }
    // Whoever spoke before the drop may be silent now: the server sends the current list right
    // after the join reply, and only when someone speaks.
    if (this.#activeSpeakers.length > 0) this.#setActiveSpeakers([]);
    this.#announce(join);
  }

  async #resubscribeAll(): Promise<void> {
    for (const subscriber of this.#subscriberConnection.subscribers) {
      const streamId = subscriber.stream.streamId;
      try {
        const reply = await this.#channel.request('subscribe', { streamId });
        this.#subscriberConnection.assign(reply.streamId, reply.mid);
        // A fresh subscription starts at 'high': ask again for what the page chose.
        if (subscriber.preferredLayer !== 'high')
          await this.#sendPreferredLayer(streamId, subscriber.preferredLayer);
      } catch (error) {
        this.#report(error);
      }
    }
  }

  async #sendPreferredLayer(streamId: string, layer: SimulcastLayer): Promise<void> {
    await this.#channel.request('setPreferredLayer', { streamId, layer });
  }

  /**
   * The subscriber connection's network path died (network change): ask the server for a new
   * connection carrying the same subscriptions. If that fails too, rejoin afresh.
   */
  async #restartSubscriberConnection(): Promise<void> {
    if (this.#state !== 'connected') return;
    this.#subscriberConnection.restart();
    try {
      await this.#channel.request('restartIce', { target: 'subscriber' });
    } catch {
      this.#rejoinAfresh();
    }
  }

  /** Media cannot be restored in place: leave and join again as a new participant. */
  #rejoinAfresh(): void {
    if (this.#state !== 'connected') return;
    const channel = this.#channel;
    // Leave first so the server drops the dead transports at once; the close is then ours.
    this.#state = 'reconnecting';
    channel.send({ type: 'leave' });
    channel.close();
    void this.#reconnect(false);
  }

  #end(info: { reason: DisconnectReason; error?: ConclaveClientError }): void {
    if (this.#state === 'disconnected') return;
    this.#state = 'disconnected';
    this.#channel.close();
    for (const publisher of this.publishers) void publisher.unpublish();
    this.#subscriberConnection.close();
    this.#relayed?.close();
    this.#e2ee?.close();
    this.emit('disconnected', info);
    this.removeAllListeners();
  }

  #startE2ee(e2ee: E2eeOptions, join: JoinResult): E2eeController {
    return new E2eeController({
      options: e2ee,
      selfId: join.connectionId,
      sessionId: join.session.sessionId,
      signal: (to, data) => this.signal({ type: E2EE_SIGNAL, data, to: [to] }),
      failed: (event) => this.emit('decryptionFailed', event),
    });
  }

  #assertConnected(): void {
    if (this.#state === 'disconnected') {
      throw new ConclaveClientError('not_connected', 'The session is disconnected');
    }
  }

  #report(error: unknown): void {
    const clientError =
      error instanceof ConclaveClientError
        ? error
        : new ConclaveClientError(
            'webrtc_failed',
            error instanceof Error ? error.message : 'Unexpected error',
          );
    this.emit('error', clientError);
  }
}

/** E2EE asked for: the options must make sense and the browser must be able to do it. */
function assertE2eePossible(e2ee: E2eeOptions | undefined): void {
  if (!e2ee) return;
  validateE2eeOptions(e2ee);
  if (!e2eeSupported()) {
    throw new ConclaveClientError(
      'e2ee_unsupported',
      'This browser cannot encrypt media end to end (no encoded transforms)',
    );
  }
}

function joinBody(token: string, sessionId: string | undefined, e2ee: boolean) {
  return {
    token,
    protocol: SIGNALING_PROTOCOL_VERSION,
    sdk: { name: '@conclave/client', version: SDK_VERSION },
    // Only an SDK that will encrypt says so (it was given keys and the browser can).
    capabilities: { e2ee, simulcast: true },
    ...(sessionId ? { sessionId } : {}),
  } as {
    token: string;
    protocol: typeof SIGNALING_PROTOCOL_VERSION;
    sdk: { name: string; version: string };
    capabilities: { e2ee: boolean; simulcast: boolean };
    sessionId?: string;
    resume?: { connectionId: string; resumeToken: string };
  };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
