/**
 * Receiving. All subscriptions of a session share ONE RTCPeerConnection that the server offers
 * (`subscriberOffer`) and the browser answers. Media sections are reused: after
 * `consumerClosed` a mid may later carry another stream, so receivers are mapped to streams by
 * mid from the latest mapping only.
 */
import type { ServerMessageOf, StreamInfo } from '@conclave/protocol/signaling';
import { TypedEmitter } from './emitter.ts';
import { toClientError } from './errors.ts';
import type { SessionPort } from './port.ts';
import { candidateToWire } from './rtc.ts';

export type SubscriberEvents = {
  /** Media is attached to the element (first time, and again after a resubscription). */
  attached: [element: HTMLMediaElement];
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

/** The one server-offered connection carrying every subscribed stream. */
export class SubscriberConnection {
  readonly #port: SessionPort;
  #pc: RTCPeerConnection | null = null;
  /** mid -> stream id, from the latest offer's mapping and subscribe replies. */
  readonly #midToStream = new Map<string, string>();
  readonly #subscribers = new Map<string, Subscriber>();
  /** Offers are applied one at a time, in arrival order. */
  #queue: Promise<void> = Promise.resolve();
  /** Called when ICE fails for good; the session rebuilds everything with a fresh join. */
  onFailed: (() => void) | null = null;

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

  /** Closes the connection; subscribers stay registered so they can be resubscribed. */
  reset(): void {
    this.#pc?.close();
    this.#pc = null;
    this.#midToStream.clear();
    for (const subscriber of this.#subscribers.values()) subscriber.detach();
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
    pc.addEventListener('track', () => this.#attachAll());
    pc.addEventListener('connectionstatechange', () => {
      if (this.#pc === pc && pc.connectionState === 'failed') this.onFailed?.();
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
      if (subscriber && subscriber.mid === mid) subscriber.attachReceiver(transceiver.receiver);
    }
  }
}
