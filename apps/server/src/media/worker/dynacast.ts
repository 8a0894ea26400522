/**
 * Dynacast: simulcast layers no consumer receives are paused at the publisher, which saves its
 * uplink and CPU. Every SWEEP_MS the layers each video producer's consumers want (their
 * preference capped by their bandwidth allocation, plus the layer they still receive while a
 * switch waits for its keyframe) are compared with what the publisher was last told; a change is
 * reported as a `layerswanted` event with the rids to keep sending. The lowest layer stays on
 * while anyone subscribes (a paused consumer resumes on it); with no consumer at all every layer
 * is turned off. Turning on is immediate; turning off waits DISABLE_DELAY_MS, so a consumer that
 * goes down and up again does not make the publisher's encoder restart a layer each time.
 */
import type { WorkerContext } from './context.ts';
import type { PublisherTransport } from './publisher-transport.ts';

export const DYNACAST = { sweepMs: 250, disableDelayMs: 2000 } as const;

interface LayerState {
  /** Bit i set: layer i was last reported as wanted. */
  reported: number;
  /** performance.now() at which each layer was last wanted. */
  lastWantedAt: Float64Array;
}

export class Dynacast {
  readonly #ctx: WorkerContext;
  readonly #states = new WeakMap<PublisherTransport, LayerState>();

  constructor(ctx: WorkerContext) {
    this.#ctx = ctx;
  }

  sweep(publishers: Iterable<PublisherTransport>, nowMs: number): void {
    for (const transport of publishers) {
      const producer = transport.producer;
      if (producer.kind !== 'video' || producer.rids.length < 2 || producer.closed) continue;
      const state = this.#stateOf(transport, nowMs);
      const wanted = wantedLayers(transport);
      let keep = 0;
      for (let layer = 0; layer < producer.layerCount; layer++) {
        if (wanted & (1 << layer)) state.lastWantedAt[layer] = nowMs;
        if (nowMs - state.lastWantedAt[layer]! < DYNACAST.disableDelayMs) keep |= 1 << layer;
      }
      if (keep === state.reported) continue;
      state.reported = keep;
      const rids = producer.rids.filter((_, layer) => keep & (1 << layer));
      this.#ctx.emit({ type: 'event', name: 'layerswanted', transportId: transport.id, rids });
    }
  }

  /** A new publisher sends every layer: that is the state its first report is compared with. */
  #stateOf(transport: PublisherTransport, nowMs: number): LayerState {
    let state = this.#states.get(transport);
    if (!state) {
      const layers = transport.producer.layerCount;
      state = { reported: (1 << layers) - 1, lastWantedAt: new Float64Array(layers).fill(nowMs) };
      this.#states.set(transport, state);
    }
    return state;
  }
}

/** Bit mask of the layers the producer's consumers want now. */
function wantedLayers(transport: PublisherTransport): number {
  const consumers = transport.producer.consumers;
  if (consumers.length === 0) return 0;
  let mask = 1;
  for (const consumer of consumers) {
    if (consumer.wantedLayer >= 0) mask |= 1 << consumer.wantedLayer;
    if (consumer.currentLayer >= 0) mask |= 1 << consumer.currentLayer;
  }
  return mask;
}
