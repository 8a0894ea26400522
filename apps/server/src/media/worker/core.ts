/**
 * Everything one worker owns, and the dispatch of RPC requests to it. Runs inside a worker process
 * (worker/main.ts) or, for tests, inside the main process (in-process mode).
 */
import { ConclaveError } from '@conclave/protocol/errors';
import type { RpcMethod, RpcMethods, RpcParams, RpcResult } from '../rpc.ts';
import type { WorkerContext } from './context.ts';
import type { PublisherTransport } from './publisher-transport.ts';
import { WorkerRouter } from './router.ts';
import type { SubscriberTransport } from './subscriber-transport.ts';

type Handlers = { [M in RpcMethod]: (params: RpcParams<M>) => Promise<RpcResult<M>> | RpcResult<M> };

export class WorkerCore {
  readonly #ctx: WorkerContext;
  readonly #routers = new Map<string, WorkerRouter>();
  readonly #transports = new Map<string, { router: WorkerRouter; kind: 'publisher' | 'subscriber' }>();
  readonly #handlers: Handlers;

  constructor(ctx: WorkerContext) {
    this.#ctx = ctx;
    this.#handlers = {
      createRouter: ({ routerId }) => this.#createRouter(routerId),
      closeRouter: ({ routerId }) => this.#closeRouter(routerId),
      createPublisherTransport: (p) => this.#createPublisher(p),
      createSubscriberTransport: (p) => this.#createSubscriber(p),
      closeTransport: ({ transportId }) => this.#closeTransport(transportId),
      addRemoteCandidate: ({ transportId, candidate }) => {
        this.#transport(transportId).addRemoteCandidate(candidate);
        return null;
      },
      getStats: ({ transportId }) => this.#transport(transportId).getStats(),
      consume: ({ transportId, consumerId, producerId }) => {
        const { router, transport } = this.#subscriber(transportId);
        return router.consume(transport, consumerId, producerId);
      },
      closeConsumer: ({ transportId, consumerId }) => {
        this.#subscriber(transportId).transport.closeConsumer(consumerId);
        return null;
      },
      createOffer: async ({ transportId }) => ({
        sdp: await this.#subscriber(transportId).transport.createOffer(),
      }),
      setAnswer: ({ transportId, answerSdp }) => {
        this.#subscriber(transportId).transport.setAnswer(answerSdp);
        return null;
      },
      requestKeyFrame: ({ transportId, consumerId }) => {
        this.#subscriber(transportId).transport.requestKeyFrame(consumerId);
        return null;
      },
      setPreferredLayer: ({ transportId, consumerId, layer }) => {
        this.#subscriber(transportId).transport.setPreferredLayer(consumerId, layer);
        return null;
      },
      getDownlinkStats: ({ transportId }) => this.#subscriber(transportId).transport.downlinkStats(),
      getProducerStats: ({ producerId }) => this.#producerStats(producerId),
    };
  }

  /** Runs one request; any failure becomes a ConclaveError (never a native message or a stack). */
  async handle<M extends RpcMethod>(method: M, params: RpcParams<M>): Promise<RpcResult<M>> {
    const handler = this.#handlers[method] as
      | ((p: RpcMethods[M][0]) => Promise<RpcResult<M>> | RpcResult<M>)
      | undefined;
    if (!handler) throw new ConclaveError('invalid_request', 'Unknown media method');
    try {
      return await handler(params);
    } catch (error) {
      if (error instanceof ConclaveError) throw error;
      console.error(`media: ${method} failed`, error);
      throw new ConclaveError('internal');
    }
  }

  get routerCount(): number {
    return this.#routers.size;
  }

  close(): void {
    for (const router of [...this.#routers.values()]) router.close();
    this.#routers.clear();
    this.#ctx.tiebreakerRelay?.close();
  }

  #createRouter(routerId: string): null {
    if (this.#routers.has(routerId)) throw new ConclaveError('conflict', 'The router exists already');
    const router = new WorkerRouter(this.#ctx, routerId, (transportId) =>
      this.#transports.delete(transportId),
    );
    this.#routers.set(routerId, router);
    return null;
  }

  #closeRouter(routerId: string): null {
    this.#routers.get(routerId)?.close();
    this.#routers.delete(routerId);
    return null;
  }

  #router(routerId: string): WorkerRouter {
    const router = this.#routers.get(routerId);
    if (!router) throw new ConclaveError('session_not_found', 'No such router');
    return router;
  }

  async #createPublisher(params: RpcParams<'createPublisherTransport'>): Promise<{ answerSdp: string }> {
    const router = this.#router(params.routerId);
    this.#claimTransportId(params.transportId);
    const { answerSdp } = await router.createPublisherTransport(params);
    this.#transports.set(params.transportId, { router, kind: 'publisher' });
    return { answerSdp };
  }

  #createSubscriber(params: RpcParams<'createSubscriberTransport'>): null {
    const router = this.#router(params.routerId);
    this.#claimTransportId(params.transportId);
    router.createSubscriberTransport(params);
    this.#transports.set(params.transportId, { router, kind: 'subscriber' });
    return null;
  }

  #claimTransportId(transportId: string): void {
    if (this.#transports.has(transportId))
      throw new ConclaveError('conflict', 'The transport exists already');
  }

  #closeTransport(transportId: string): null {
    const entry = this.#transports.get(transportId);
    if (!entry) return null;
    const transport =
      entry.kind === 'publisher'
        ? entry.router.publishers.get(transportId)
        : entry.router.subscribers.get(transportId);
    transport?.close('caller');
    this.#transports.delete(transportId);
    return null;
  }

  #transport(transportId: string): PublisherTransport | SubscriberTransport {
    const entry = this.#transports.get(transportId);
    const transport =
      entry?.kind === 'publisher'
        ? entry.router.publishers.get(transportId)
        : entry?.router.subscribers.get(transportId);
    if (!transport) throw new ConclaveError('not_found', 'No such transport');
    return transport;
  }

  #subscriber(transportId: string): { router: WorkerRouter; transport: SubscriberTransport } {
    const entry = this.#transports.get(transportId);
    const transport = entry?.kind === 'subscriber' ? entry.router.subscribers.get(transportId) : undefined;
    if (!entry || !transport) throw new ConclaveError('not_found', 'No such subscriber transport');
    return { router: entry.router, transport };
  }

  #producerStats(producerId: string): RpcResult<'getProducerStats'> {
    for (const router of this.#routers.values()) {
      const producer = router.producers.get(producerId);
      if (producer) {
        return {
          packetsReceived: producer.packetsReceived,
          keyFrameRequestsSent: producer.keyFrameRequestsSent,
          consumers: producer.consumers.length,
        };
      }
    }
    throw new ConclaveError('stream_not_found');
  }
}
