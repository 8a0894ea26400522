/**
 * One router per session: its producers and the transports that publish and subscribe. Consumers
 * only ever see producers of their own router, which is what keeps sessions apart.
 */
import { ConclaveError } from '@conclave/protocol/errors';
import type { MediaKind, MediaSource } from '../api.ts';
import { ACTIVE_SPEAKER, ActiveSpeakerDetector } from './active-speaker-detector.ts';
import type { WorkerContext } from './context.ts';
import { DYNACAST, Dynacast } from './dynacast.ts';
import { guard } from './guard.ts';
import type { WorkerProducer } from './producer.ts';
import { PublisherTransport } from './publisher-transport.ts';
import { SubscriberTransport } from './subscriber-transport.ts';
import type { CloseReason } from './transport-common.ts';

export class WorkerRouter {
  readonly id: string;
  readonly publishers = new Map<string, PublisherTransport>();
  readonly subscribers = new Map<string, SubscriberTransport>();
  readonly producers = new Map<string, WorkerProducer>();
  closed = false;
  readonly #ctx: WorkerContext;
  readonly #onTransportClosed: (transportId: string) => void;
  readonly #dynacast: Dynacast;
  readonly #dynacastTimer: NodeJS.Timeout;
  readonly #speakers = new ActiveSpeakerDetector();
  readonly #speakerTimer: NodeJS.Timeout;

  constructor(ctx: WorkerContext, id: string, onTransportClosed: (transportId: string) => void) {
    this.#ctx = ctx;
    this.id = id;
    this.#onTransportClosed = onTransportClosed;
    this.#dynacast = new Dynacast(ctx);
    this.#dynacastTimer = setInterval(
      guard('dynacast', () => this.#dynacast.sweep(this.publishers.values(), performance.now())),
      DYNACAST.sweepMs,
    );
    this.#dynacastTimer.unref();
    this.#speakerTimer = setInterval(
      guard('active speaker', () => this.#sampleSpeakers(performance.now())),
      ACTIVE_SPEAKER.sampleMs,
    );
    this.#speakerTimer.unref();
  }

  /** Takes every microphone's audio levels since the last sample; reports the speakers when they change. */
  #sampleSpeakers(nowMs: number): void {
    const samples: [string, number][] = [];
    for (const producer of this.producers.values()) {
      if (producer.audioLevels && !producer.closed) samples.push([producer.id, producer.audioLevels.take()]);
    }
    const speakers = this.#speakers.update(nowMs, samples);
    if (!speakers) return;
    this.#ctx.emit({
      type: 'event',
      name: 'activespeakers',
      routerId: this.id,
      speakers: speakers.map(({ id, level }) => ({
        producerId: id,
        participantId: this.producers.get(id)?.participantId ?? '',
        level,
      })),
    });
  }

  async createPublisherTransport(params: {
    transportId: string;
    producerId: string;
    participantId: string;
    source: MediaSource;
    kind: MediaKind;
    offerSdp: string;
  }): Promise<{ transport: PublisherTransport; answerSdp: string }> {
    if (this.producers.has(params.producerId)) throw new ConclaveError('conflict');
    const created = await PublisherTransport.create(this.#ctx, params, params.offerSdp, (transport, reason) =>
      this.#publisherClosed(transport, reason),
    );
    if (this.closed) {
      created.transport.close('router');
      throw new ConclaveError('session_not_found', 'The router closed');
    }
    this.publishers.set(created.transport.id, created.transport);
    this.producers.set(created.transport.producer.id, created.transport.producer);
    return created;
  }

  createSubscriberTransport(params: { transportId: string; participantId: string }): SubscriberTransport {
    const transport: SubscriberTransport = new SubscriberTransport(this.#ctx, params, (reason) =>
      this.#subscriberClosed(transport, reason),
    );
    this.subscribers.set(transport.id, transport);
    return transport;
  }

  consume(transport: SubscriberTransport, consumerId: string, producerId: string) {
    const producer = this.producers.get(producerId);
    if (!producer || producer.closed) throw new ConclaveError('stream_not_found');
    return transport.consume(consumerId, producer);
  }

  #publisherClosed(transport: PublisherTransport, reason: CloseReason): void {
    if (!this.publishers.has(transport.id)) return; // failed while being created: nobody knows it
    const producer = transport.producer;
    this.publishers.delete(transport.id);
    this.producers.delete(producer.id);
    for (const subscriber of this.subscribers.values()) {
      for (const consumerId of subscriber.releaseProducer(producer)) {
        this.#ctx.emit({ type: 'event', name: 'consumerclose', transportId: subscriber.id, consumerId });
      }
    }
    if (reason === 'failed') {
      this.#ctx.emit({ type: 'event', name: 'producerclose', routerId: this.id, producerId: producer.id });
    }
    this.#transportClosed(transport.id, reason);
  }

  #subscriberClosed(transport: SubscriberTransport, reason: CloseReason): void {
    this.subscribers.delete(transport.id);
    this.#transportClosed(transport.id, reason);
  }

  #transportClosed(transportId: string, reason: CloseReason): void {
    this.#onTransportClosed(transportId);
    if (reason !== 'caller') this.#ctx.emit({ type: 'event', name: 'transportclose', transportId });
  }

  /** Closes every transport (and so every producer and consumer) of the session. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.#dynacastTimer);
    clearInterval(this.#speakerTimer);
    for (const transport of [...this.publishers.values()]) transport.close('router');
    for (const transport of [...this.subscribers.values()]) transport.close('router');
  }
}
