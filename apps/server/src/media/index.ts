/**
 * The media plane (SFU): `createMediaPlane()` starts the workers and places routers on them.
 * See api.ts for the contract and worker/ for what runs inside a worker.
 */
import { availableParallelism } from 'node:os';
import { ConclaveError } from '@conclave/protocol/errors';
import type { MediaPlane, MediaPlaneOptions, Router } from './api.ts';
import { type PublisherTransportProxy, RouterProxy, SubscriberTransportProxy } from './proxies.ts';
import type { WorkerEvent, WorkerOptions } from './rpc.ts';
import { createWorkerCore, pickUdpPort } from './worker/start.ts';
import { InProcessWorker, ProcessWorker, type WorkerHandle, type WorkerHooks } from './worker-handle.ts';

export type * from './api.ts';

export interface MediaWorkerInfo {
  index: number;
  pid: number | undefined;
  port: number;
  routers: number;
}

/** The plane as created here: the contract plus diagnostics for operators and tests. */
export interface LocalMediaPlane extends MediaPlane {
  workers(): MediaWorkerInfo[];
}

/** A worker that dies this soon after starting is restarted only after a pause (crash loop). */
const CRASH_LOOP_MS = 5000;

class MediaPlaneImpl implements LocalMediaPlane {
  readonly #options: MediaPlaneOptions;
  readonly #workers: (WorkerHandle | null)[];
  readonly #startedAt: number[] = [];
  readonly #routers = new Map<string, RouterProxy>();
  readonly #hooks: WorkerHooks;
  #closed = false;

  constructor(options: MediaPlaneOptions, count: number) {
    this.#options = options;
    this.#workers = new Array<WorkerHandle | null>(count).fill(null);
    this.#hooks = {
      onEvent: (event) => this.#onWorkerEvent(event),
      onExit: (worker) => this.#onWorkerExit(worker),
    };
  }

  async start(): Promise<void> {
    await Promise.all(this.#workers.map((_, index) => this.#startWorker(index)));
  }

  #workerOptions(index: number): WorkerOptions {
    const o = this.#options;
    return {
      index,
      bindAddress: o.bindAddress,
      port: o.rtcPort ? o.rtcPort + index : 0,
      ...(o.announcedAddress ? { announcedAddress: o.announcedAddress } : {}),
      preferAes256Gcm: o.preferAes256Gcm,
      pliThrottleMs: o.pliThrottleMs,
      maxPublishBitrate: o.maxPublishBitrate ?? 0,
      tiebreakerRelayPort: relayPortOf(o.tiebreakerRelayPort, index),
    };
  }

  async #startWorker(index: number): Promise<void> {
    const options = this.#workerOptions(index);
    this.#startedAt[index] = Date.now();
    if (this.#options.inProcess) {
      const port = options.port || (await pickUdpPort(options.bindAddress));
      const core = createWorkerCore(
        { ...options, port },
        (event) => queueMicrotask(() => this.#onWorkerEvent(event)),
        false,
      );
      this.#workers[index] = new InProcessWorker(index, port, core);
      return;
    }
    const worker = await ProcessWorker.start(options, this.#hooks);
    if (this.#closed) await worker.stop();
    else this.#workers[index] = worker;
  }

  async createRouter(routerId: string): Promise<Router> {
    if (this.#closed) throw new ConclaveError('media_unavailable', 'The media plane is closed');
    const existing = this.#routers.get(routerId);
    if (existing) return existing;
    const worker = this.#leastLoadedWorker();
    worker.routerIds.add(routerId);
    try {
      await worker.request('createRouter', { routerId });
    } catch (error) {
      worker.routerIds.delete(routerId);
      throw error;
    }
    const router = new RouterProxy(routerId, worker, (closed) => this.#forgetRouter(closed));
    this.#routers.set(routerId, router);
    return router;
  }

  #leastLoadedWorker(): WorkerHandle {
    let best: WorkerHandle | null = null;
    for (const worker of this.#workers) {
      if (worker && (!best || worker.routerIds.size < best.routerIds.size)) best = worker;
    }
    if (!best) throw new ConclaveError('media_unavailable');
    return best;
  }

  #forgetRouter(router: RouterProxy): void {
    if (this.#routers.get(router.id) === router) this.#routers.delete(router.id);
    router.worker.routerIds.delete(router.id);
  }

  getRouter(routerId: string): Router | undefined {
    return this.#routers.get(routerId);
  }

  #onWorkerEvent(event: WorkerEvent): void {
    switch (event.name) {
      case 'producerclose':
        this.#routers.get(event.routerId)?.onProducerClosed(event.producerId);
        return;
      case 'routerclose':
        this.#routers.get(event.routerId)?.onWorkerDied();
        return;
      case 'activespeakers':
        this.#routers.get(event.routerId)?.onActiveSpeakers(event.speakers);
        return;
      case 'transportclose':
        this.#transport(event.transportId)?.closeFromWorker();
        return;
      case 'connectionstatechange':
        this.#transport(event.transportId)?.onConnectionStateChange(event.state);
        return;
      case 'consumerclose': {
        const transport = this.#transport(event.transportId);
        if (transport instanceof SubscriberTransportProxy) transport.onConsumerClosed(event.consumerId);
        return;
      }
      case 'layerswanted': {
        const transport = this.#transport(event.transportId);
        if (transport && !(transport instanceof SubscriberTransportProxy))
          transport.onLayersWanted(event.rids);
        return;
      }
      case 'consumerpause': {
        const transport = this.#transport(event.transportId);
        if (transport instanceof SubscriberTransportProxy)
          transport.onConsumerPaused(event.consumerId, event.paused);
        return;
      }
    }
  }

  /** Transports are few per router and routers few per worker: a scan is cheap for an event. */
  #transport(transportId: string): PublisherTransportProxy | SubscriberTransportProxy | undefined {
    for (const router of this.#routers.values()) {
      const transport = router.transports.get(transportId);
      if (transport) return transport;
    }
    return undefined;
  }

  #onWorkerExit(worker: WorkerHandle): void {
    if (this.#workers[worker.index] !== worker) return;
    this.#workers[worker.index] = null;
    for (const router of [...this.#routers.values()]) {
      if (router.worker === worker) router.onWorkerDied();
    }
    if (this.#closed) return;
    console.error(`media: worker ${worker.index} (pid ${worker.pid}) exited; starting a replacement`);
    const lived = Date.now() - (this.#startedAt[worker.index] ?? 0);
    setTimeout(() => this.#restart(worker.index), lived < CRASH_LOOP_MS ? 1000 : 0).unref();
  }

  #restart(index: number): void {
    if (this.#closed) return;
    this.#startWorker(index).catch((error) => {
      console.error(`media: worker ${index} failed to start`, error);
      setTimeout(() => this.#restart(index), 2000).unref();
    });
  }

  workers(): MediaWorkerInfo[] {
    return this.#workers.flatMap((w) =>
      w ? [{ index: w.index, pid: w.pid, port: w.port, routers: w.routerIds.size }] : [],
    );
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const router of [...this.#routers.values()]) router.close();
    await Promise.all(this.#workers.map((w) => w?.stop()));
    this.#workers.fill(null);
  }
}

/**
 * Starts the media workers (one process per core unless `workers` says otherwise; `inProcess`
 * runs a single worker core in this process, for tests) and resolves once all are ready.
 */
export async function createMediaPlane(options: MediaPlaneOptions): Promise<LocalMediaPlane> {
  const count = options.inProcess ? 1 : options.workers > 0 ? options.workers : availableParallelism();
  const plane = new MediaPlaneImpl(options, count);
  try {
    await plane.start();
  } catch (error) {
    await plane.close();
    throw error;
  }
  return plane;
}

/** Worker `index`'s tie-breaker relay port: null (disabled), 0 (free port) or base + index. */
function relayPortOf(base: number | null | undefined, index: number): number | null {
  if (base === null) return null;
  return base ? base + index : 0;
}
