/**
 * Receiving. All subscriptions of a session share ONE RTCPeerConnection that the server offers
 * (`subscriberOffer`) and the browser answers. Media sections are reused: after
 * `consumerClosed` a mid may later carry another stream, so receivers are mapped to streams by
 * mid from the latest mapping only.
 */
import type { ServerMessageOf, StreamInfo } from '@conclave/protocol/signaling';
import { TypedEmitter } from './emitter.ts';
import { ConclaveClientError, toClientError } from './errors.ts';
import type { SessionPort } from './port.ts';
import { candidateToWire, watchConnectionPath } from './rtc.ts';

/** A simulcast layer as the server names it. */
export type SimulcastLayer = 'low' | 'medium' | 'high';

export type SubscriberEvents = {
  /** Media is attached to the element (first time, and again after a resubscription). */
  attached: [element: HTMLMediaElement];
  /**
   * The server stopped forwarding this video because the downlink cannot carry it (audio of the
   * same participant goes on): show a placeholder. `resumed` follows when bandwidth returns.
   */
  paused: [reason: 'bandwidth'];
  resumed: [];
  destroyed: [];
};

export class Subscriber extends TypedEmitter<SubscriberEvents> {
  readonly stream: StreamInfo;
  readonly element: HTMLMediaElement;
  /** The media section carrying the stream now; null until the server assigned one. */
  mid: string | null = null;
  #receiver: RTCRtpReceiver | null = null;
  #destroyed = false;
  /** Set by the session: unsubscribe on the server and forget this subscriber. */
  onUnsubscribe: ((subscriber: Subscriber) => Promise<void>) | null = null;
  /** Set by the session: asks the server for another simulcast layer. */
  onPreferredLayer: ((subscriber: Subscriber, layer: SimulcastLayer) => Promise<void>) | null = null;
  #preferredLayer: SimulcastLayer = 'high';
  #paused = false;

  constructor(stream: StreamInfo, element?: HTMLMediaElement) {
    super();
    this.stream = stream;
    this.element = element ?? createElementFor(stream.kind);
    this.element.autoplay = true;
    if (this.element instanceof HTMLVideoElement) {
      this.element.playsInline = true;
      // Audio travels in its own stream and element; a muted video element may autoplay.
      this.element.muted = true;
    }
  }

  get track(): MediaStreamTrack | null {
    return this.#receiver?.track ?? null;
  }

  get destroyed(): boolean {
    return this.#destroyed;
  }

  /** Called by the subscriber connection when the receiver for our mid exists. */
  attachReceiver(receiver: RTCRtpReceiver): void {
    if (this.#destroyed) return;
    if (this.#receiver === receiver && this.element.srcObject) return;
    this.#receiver = receiver;
    this.element.srcObject = new MediaStream([receiver.track]);
    this.element.play().catch(() => {
      // Autoplay refused (no user gesture yet): the page can call element.play() on a click.
    });
    this.emit('attached', this.element);
  }

  detach(): void {
    this.#receiver = null;
    this.mid = null;
  }

  /** inbound-rtp and codec statistics of this stream. */
  async getStats(): Promise<RTCStatsReport | null> {
    return this.#receiver ? this.#receiver.getStats() : null;
  }

  /** True while the server holds this video back for lack of bandwidth (see the `paused` event). */
  get paused(): boolean {
    return this.#paused;
  }

  /** Called by the session on `streamPaused` / `streamResumed`. */
  setPaused(paused: boolean): void {
    if (this.#destroyed || paused === this.#paused) return;
    this.#paused = paused;
    if (paused) this.emit('paused', 'bandwidth');
    else this.emit('resumed');
  }

  /** The simulcast layer asked for with setPreferredLayer ('high' unless changed). */
  get preferredLayer(): SimulcastLayer {
    return this.#preferredLayer;
  }

  /**
   * Caps the video quality received: 'low' for a thumbnail, 'high' (the default) for the main
   * view. The server switches on the layer's next keyframe, so the picture never stalls; streams
   * published without simulcast stay as they are.
   */
  async setPreferredLayer(layer: SimulcastLayer): Promise<void> {
    if (layer !== 'low' && layer !== 'medium' && layer !== 'high') {
      throw new ConclaveClientError('invalid_argument', "The layer must be 'low', 'medium' or 'high'");
    }
    this.#preferredLayer = layer;
    if (this.#destroyed) return;
    await this.onPreferredLayer?.(this, layer);
  }

  async unsubscribe(): Promise<void> {
    if (this.#destroyed) return;
    await this.onUnsubscribe?.(this);
  }

  /** The stream ended or the session closed: release the element. */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#receiver = null;
    this.element.srcObject = null;
    this.emit('destroyed');
    this.removeAllListeners();
  }
}

function createElementFor(kind: 'audio' | 'video'): HTMLMediaElement {
  return document.createElement(kind === 'video' ? 'video' : 'audio');
}

/** How long a replaced subscriber connection lingers before it is closed (see restart()). */
const RESTART_CLOSE_DELAY_MS = 5_000;

/** The one server-offered connection carrying every subscribed stream. */
export class SubscriberConnection {
  readonly #port: SessionPort;
  #pc: RTCPeerConnection | null = null;
  /** mid -> stream id, from the latest offer's mapping and subscribe replies. */
  readonly #midToStream = new Map<string, string>();
  readonly #subscribers = new Map<string, Subscriber>();
  /** Offers are applied one at a time, in arrival order. */
  #queue: Promise<void> = Promise.resolve();
  /** Called when the connection's network path died; the session asks the server for a new one. */
  onPathDead: (() => void) | null = null;

  constructor(port: SessionPort) {
    this.#port = port;
  }

  /**
   * Creates the connection before the server's first offer arrives: building an
   * RTCPeerConnection takes tens of milliseconds in Chromium, which would otherwise sit on the
   * path from joining to the first frame.
   */
  prepare(): void {
    if (!this.#pc) this.#createConnection();
  }

  get peerConnection(): RTCPeerConnection | null {
    return this.#pc;
  }

  get subscribers(): Subscriber[] {
    return [...this.#subscribers.values()];
  }

  subscriberOf(streamId: string): Subscriber | undefined {
    return this.#subscribers.get(streamId);
  }

  add(subscriber: Subscriber): void {
    this.#subscribers.set(subscriber.stream.streamId, subscriber);
  }

  remove(streamId: string): Subscriber | undefined {
    const subscriber = this.#subscribers.get(streamId);
    this.#subscribers.delete(streamId);
    if (subscriber?.mid && this.#midToStream.get(subscriber.mid) === streamId) {
      this.#midToStream.delete(subscriber.mid);
    }
    return subscriber;
  }

  /** The subscribe reply named the section that carries the stream. */
  assign(streamId: string, mid: string): void {
    this.#midToStream.set(mid, streamId);
    const subscriber = this.#subscribers.get(streamId);
    if (subscriber) subscriber.mid = mid;
    this.#attachAll();
  }

  onOffer(message: ServerMessageOf<'subscriberOffer'>): Promise<void> {
    const run = this.#queue.then(() => this.#applyOffer(message));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  onConsumerClosed(message: ServerMessageOf<'consumerClosed'>): void {
    if (this.#midToStream.get(message.mid) === message.streamId) this.#midToStream.delete(message.mid);
    this.#subscribers.get(message.streamId)?.detach();
  }

  async getStats(): Promise<RTCStatsReport | null> {
    return this.#pc ? this.#pc.getStats() : null;
  }

  /**
   * Replaces the connection with a fresh one (restartIce): the server's next offer maps every
   * subscription onto it and each subscriber's element gets the new receiver.
   */
  restart(): void {
    const old = this.#detachAll();
    this.prepare();
    // As for publishers: closed after its replacement exists, so no orderly close races ahead.
    setTimeout(() => old?.close(), RESTART_CLOSE_DELAY_MS);
  }

  /** Closes the connection; subscribers stay registered so they can be resubscribed. */
  reset(): void {
    this.#detachAll()?.close();
  }

  /** Forgets the connection and every mapping onto it; returns the connection for the caller to close. */
  #detachAll(): RTCPeerConnection | null {
    const pc = this.#pc;
    this.#pc = null;
    this.#midToStream.clear();
    for (const subscriber of this.#subscribers.values()) subscriber.detach();
    return pc;
  }

  close(): void {
    this.reset();
    for (const subscriber of this.#subscribers.values()) subscriber.destroy();
    this.#subscribers.clear();
  }

  async #applyOffer(message: ServerMessageOf<'subscriberOffer'>): Promise<void> {
    const pc = this.#pc ?? this.#createConnection();
    for (const { mid, streamId } of message.tracks) {
      this.#midToStream.set(mid, streamId);
      const subscriber = this.#subscribers.get(streamId);
      if (subscriber) subscriber.mid = mid;
    }
    try {
      await pc.setRemoteDescription({ type: 'offer', sdp: message.sdp });
      await pc.setLocalDescription(await pc.createAnswer());
      await this.#port.request('subscriberAnswer', { sdp: pc.localDescription?.sdp ?? '' });
    } catch (error) {
      throw toClientError('webrtc_failed', error, 'Could not answer the subscriber offer');
    }
    this.#attachAll();
  }

  #createConnection(): RTCPeerConnection {
    const pc = new RTCPeerConnection(this.#port.rtcConfiguration());
    this.#pc = pc;
    pc.addEventListener('icecandidate', (event) => {
      const wire = candidateToWire(event.candidate);
      if (wire && this.#pc === pc)
        this.#port.send({ type: 'candidate', target: 'subscriber', candidate: wire });
    });
    pc.addEventListener('track', (event) => {
      // E2EE: decrypt from the first frame on; whose frames they are is set once mapped.
      this.#port.protection?.protectReceiver(event.receiver, null);
      this.#attachAll();
    });
    watchConnectionPath(pc, () => {
      if (this.#pc === pc) this.onPathDead?.();
    });
    return pc;
  }

  /** Gives every subscriber the receiver of the section its stream is mapped to. */
  #attachAll(): void {
    const pc = this.#pc;
    if (!pc) return;
    for (const transceiver of pc.getTransceivers()) {
      const mid = transceiver.mid;
      const streamId = mid === null ? undefined : this.#midToStream.get(mid);
      const subscriber = streamId === undefined ? undefined : this.#subscribers.get(streamId);
      if (!subscriber || subscriber.mid !== mid) continue;
      this.#port.protection?.protectReceiver(transceiver.receiver, subscriber.stream.connectionId);
      subscriber.attachReceiver(transceiver.receiver);
    }
  }
}
