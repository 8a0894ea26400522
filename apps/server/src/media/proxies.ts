/**
 * Main-process objects of the media plane. They hold no media: each forwards calls to the worker
 * that owns its router and re-emits that worker's events. `close` events fire whenever the object
 * closes, whether the caller closed it, its connection failed, or its worker died.
 */
import { randomUUID } from 'node:crypto';
import { ConclaveError } from '@conclave/protocol/errors';
import type {
  ActiveSpeaker,
  DownlinkStats,
  IceCandidateInit,
  MediaKind,
  MediaSource,
  Producer,
  PublisherTransport,
  Router,
  SimulcastLayer,
  SubscriberTransport,
  TransportStats,
} from './api.ts';
import { SafeEmitter } from './emitter.ts';
import type { WorkerHandle } from './worker-handle.ts';

function ignore(): void {
  // fire-and-forget RPC: the worker may already be gone, which is what the caller wanted anyway
}

export class RouterProxy
  extends SafeEmitter<{
    producerclose: [producerId: string];
    activespeakers: [speakers: ActiveSpeaker[]];
    close: [];
  }>
  implements Router
{
  readonly id: string;
  readonly worker: WorkerHandle;
  readonly transports = new Map<string, PublisherTransportProxy | SubscriberTransportProxy>();
  closed = false;
  readonly #onClosed: (router: RouterProxy) => void;

  constructor(id: string, worker: WorkerHandle, onClosed: (router: RouterProxy) => void) {
    super();
    this.id = id;
    this.worker = worker;
    this.#onClosed = onClosed;
  }

  async createPublisherTransport(params: {
    participantId: string;
    source: MediaSource;
    kind: MediaKind;
    offerSdp: string;
  }): Promise<{ transport: PublisherTransport; answerSdp: string }> {
    this.#assertOpen();
    const transportId = randomUUID();
    const producer: Producer = {
      id: randomUUID(),
      participantId: params.participantId,
      kind: params.kind,
      source: params.source,
    };
    const { answerSdp } = await this.worker.request('createPublisherTransport', {
      routerId: this.id,
      transportId,
      producerId: producer.id,
      participantId: params.participantId,
      source: params.source,
      kind: params.kind,
      offerSdp: params.offerSdp,
    });
    const transport = new PublisherTransportProxy(transportId, producer, this);
    this.transports.set(transportId, transport);
    if (this.closed) transport.closeFromWorker();
    return { transport, answerSdp };
  }

  async createSubscriberTransport(params: { participantId: string }): Promise<SubscriberTransport> {
    this.#assertOpen();
    const transportId = randomUUID();
    await this.worker.request('createSubscriberTransport', {
      routerId: this.id,
      transportId,
      participantId: params.participantId,
    });
    const transport = new SubscriberTransportProxy(transportId, params.participantId, this);
    this.transports.set(transportId, transport);
    if (this.closed) transport.closeFromWorker();
    return transport;
  }

  #assertOpen(): void {
    if (this.closed) throw new ConclaveError('session_not_found', 'The media router is closed');
  }

  close(): void {
    if (this.closed) return;
    this.worker.request('closeRouter', { routerId: this.id }).catch(ignore);
    this.#end();
  }

  /** The worker died: every producer ends on its own, then the router. */
  onWorkerDied(): void {
    if (this.closed) return;
    for (const transport of this.transports.values()) {
      if (transport instanceof PublisherTransportProxy) this.safeEmit('producerclose', transport.producer.id);
    }
    this.#end();
  }

  onProducerClosed(producerId: string): void {
    this.safeEmit('producerclose', producerId);
  }

  onActiveSpeakers(speakers: ActiveSpeaker[]): void {
    if (!this.closed) this.safeEmit('activespeakers', speakers);
  }

  #end(): void {
    this.closed = true;
    for (const transport of [...this.transports.values()]) transport.closeFromWorker();
    this.#onClosed(this);
    this.safeEmit('close');
    this.removeAllListeners();
  }
}

abstract class TransportProxy<
  Events extends { close: []; connectionstatechange: [state: string] },
> extends SafeEmitter<Events> {
  readonly id: string;
  readonly participantId: string;
  closed = false;
  protected readonly router: RouterProxy;

  constructor(id: string, participantId: string, router: RouterProxy) {
    super();
    this.id = id;
    this.participantId = participantId;
    this.router = router;
  }

  addRemoteCandidate(candidate: IceCandidateInit): void {
    if (this.closed) return;
    this.router.worker.request('addRemoteCandidate', { transportId: this.id, candidate }).catch(ignore);
  }

  getStats(): Promise<TransportStats> {
    if (this.closed) return Promise.reject(new ConclaveError('not_found', 'The transport is closed'));
    return this.router.worker.request('getStats', { transportId: this.id });
  }

  close(): void {
    if (this.closed) return;
    this.router.worker.request('closeTransport', { transportId: this.id }).catch(ignore);
    this.closeFromWorker();
  }

  /** Closed by the worker (failure), by the router, or by the caller after the RPC went out. */
  closeFromWorker(): void {
    if (this.closed) return;
    this.closed = true;
    this.router.transports.delete(this.id);
    this.safeEmit('close', ...([] as unknown as Events['close']));
    this.removeAllListeners();
  }

  onConnectionStateChange(state: string): void {
    this.safeEmit('connectionstatechange', ...([state] as Events['connectionstatechange']));
  }
}

export class PublisherTransportProxy
  extends TransportProxy<{
    close: [];
    connectionstatechange: [state: string];
    layerswanted: [rids: string[]];
  }>
  implements PublisherTransport
{
  readonly producer: Producer;

  constructor(id: string, producer: Producer, router: RouterProxy) {
    super(id, producer.participantId, router);
    this.producer = Object.freeze(producer);
  }

  onLayersWanted(rids: string[]): void {
    this.safeEmit('layerswanted', rids);
  }
}

export class SubscriberTransportProxy
  extends TransportProxy<{
    close: [];
    connectionstatechange: [state: string];
    consumerclose: [consumerId: string];
    consumerpause: [consumerId: string, paused: boolean];
  }>
  implements SubscriberTransport
{
  readonly consumerIds = new Set<string>();

  async consume(
    producerId: string,
  ): Promise<{ consumerId: string; mid: string; negotiationNeeded: boolean }> {
    this.#assertOpen();
    const consumerId = randomUUID();
    const result = await this.router.worker.request('consume', {
      transportId: this.id,
      consumerId,
      producerId,
    });
    this.consumerIds.add(consumerId);
    return { consumerId, ...result };
  }

  closeConsumer(consumerId: string): void {
    if (this.closed || !this.consumerIds.delete(consumerId)) return;
    this.router.worker.request('closeConsumer', { transportId: this.id, consumerId }).catch(ignore);
  }

  async createOffer(): Promise<string> {
    this.#assertOpen();
    return (await this.router.worker.request('createOffer', { transportId: this.id })).sdp;
  }

  async setAnswer(answerSdp: string): Promise<void> {
    this.#assertOpen();
    await this.router.worker.request('setAnswer', { transportId: this.id, answerSdp });
  }

  requestKeyFrame(consumerId: string): void {
    if (this.closed || !this.consumerIds.has(consumerId)) return;
    this.router.worker.request('requestKeyFrame', { transportId: this.id, consumerId }).catch(ignore);
  }

  async setPreferredLayer(consumerId: string, layer: SimulcastLayer): Promise<void> {
    this.#assertOpen();
    if (!this.consumerIds.has(consumerId)) throw new ConclaveError('stream_not_found', 'No such consumer');
    await this.router.worker.request('setPreferredLayer', { transportId: this.id, consumerId, layer });
  }

  getDownlinkStats(): Promise<DownlinkStats> {
    this.#assertOpen();
    return this.router.worker.request('getDownlinkStats', { transportId: this.id });
  }

  onConsumerPaused(consumerId: string, paused: boolean): void {
    if (this.consumerIds.has(consumerId)) this.safeEmit('consumerpause', consumerId, paused);
  }

  onConsumerClosed(consumerId: string): void {
    if (this.consumerIds.delete(consumerId)) this.safeEmit('consumerclose', consumerId);
  }

  #assertOpen(): void {
    if (this.closed) throw new ConclaveError('not_found', 'The transport is closed');
  }
}
