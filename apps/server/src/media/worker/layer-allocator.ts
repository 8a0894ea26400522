/**
 * Shares one subscriber connection's estimated downlink (downlink-estimator.ts) among what it
 * receives, every ALLOCATION_INTERVAL_MS:
 *
 * 1. Audio first: every audio consumer's measured rate comes off the budget, whatever is left.
 * 2. Every video consumer gets its lowest layer, in subscription order, while the budget lasts;
 *    one that has not fitted for ALLOCATION.pauseAfterMs is paused (audio-only fallback) and the
 *    client is told.
 * 3. The rest goes up one layer at a time, round-robin over the video consumers, never above the
 *    layer the subscriber asked for (setPreferredLayer).
 *
 * The chosen layer is a cap the consumer switches to through the keyframe-gated mechanism
 * (consumer.ts), so a change never breaks the picture.
 *
 * Hysteresis: going above what a consumer has now (a layer up, or resuming) needs the new total
 * to fit with UPGRADE_HEADROOM to spare, goes one layer per allocation where bandwidth held the
 * consumer down, and is not tried before the backoff after the last
 * bandwidth downgrade has passed. The backoff starts at 2 s and doubles (up to 4 s) every time a
 * downgrade follows an upgrade within 10 s (the upgrade did not fit: the link is at its limit), and
 * goes back to 2 s otherwise. Each upgrade is thereby also the probe that shows whether the link
 * has room again: the SFU sends no padding probes. The cap of 4 s is what keeps the climb after a
 * link recovers under 10 s (backoff, then about 4 s of steps and keyframes); with 16 s a probe
 * that failed just before the recovery held the subscriber a layer down for 12 s (measured in
 * Chromium, e2e/impaired-call.test.ts). The price: near a layer boundary, a failed probe (a short
 * freeze of the switch back down) every 4-6 s instead of every 16.
 */
import type { MediaKind } from '../api.ts';
import type { WorkerProducer } from './producer.ts';

export const ALLOCATION = {
  intervalMs: 500,
  upgradeHeadroom: 1.15,
  initialBackoffMs: 2000,
  maxBackoffMs: 4000,
  failedUpgradeWindowMs: 10_000,
  /** A video's lowest layer must not have fitted this long before the video is paused. */
  pauseAfterMs: 2000,
} as const;

/** What the allocator needs of a consumer slot (consumer.ts). */
export interface AllocatableSlot {
  readonly kind: MediaKind;
  readonly producer: WorkerProducer | null;
  /** The subscriber's own cap (setPreferredLayer), as a layer index. */
  readonly preferredLayer: number;
  /** Layer allowed by bandwidth now; -1: video paused. */
  readonly bandwidthLayer: number;
  setBandwidthLayer(layer: number): void;
}

export interface AllocationChanges {
  paused: AllocatableSlot[];
  resumed: AllocatableSlot[];
}

/** The highest layer a slot asks for: its preference, within what the producer sends. */
function topOf(slot: AllocatableSlot): number {
  return Math.min(slot.preferredLayer, slot.producer!.layerCount - 1);
}

export class LayerAllocator {
  #upgradeNotBefore = 0;
  #backoffMs: number = ALLOCATION.initialBackoffMs;
  #lastUpgradeAt = Number.NEGATIVE_INFINITY;
  /** Slots the last plan gave less than they asked for. */
  readonly #heldDown = new WeakSet<AllocatableSlot>();
  /** Since when a slot's lowest layer has not fitted (see #pauseDue). */
  readonly #shortSince = new WeakMap<AllocatableSlot, number>();

  /** Applies the allocation for `estimateBps`; returns the video consumers paused or resumed. */
  allocate(estimateBps: number, slots: readonly AllocatableSlot[], nowMs: number): AllocationChanges {
    let budget = estimateBps;
    const video: AllocatableSlot[] = [];
    for (const slot of slots) {
      if (!slot.producer) continue;
      if (slot.kind === 'audio') budget -= slot.producer.rates.bitrate(0, nowMs);
      else video.push(slot);
    }
    const plan = this.#plan(budget, video, nowMs);
    return this.#apply(video, plan, nowMs);
  }

  /** Layer per video slot (-1: paused): lowest layers first, then one step at a time. */
  #plan(budget: number, video: AllocatableSlot[], nowMs: number): number[] {
    const mayUpgrade = nowMs >= this.#upgradeNotBefore;
    const plan = video.map(() => -1);
    const cost = (slot: AllocatableSlot, layer: number) =>
      layer < 0 ? 0 : slot.producer!.rates.bitrate(layer, nowMs);
    const fits = (slot: AllocatableSlot, layer: number, extra: number) => {
      if (layer <= slot.bandwidthLayer) return budget >= extra;
      // Where bandwidth held a slot down, one layer above its cap per allocation, however large
      // the budget: an estimate released to unconstrained is a guess, and each step up is the
      // probe that tests it. (A subscriber raising its own cap on a free link goes straight up.)
      if (layer > slot.bandwidthLayer + 1 && this.#heldDown.has(slot)) return false;
      return mayUpgrade && budget >= extra * ALLOCATION.upgradeHeadroom;
    };
    video.forEach((slot, i) => {
      const extra = cost(slot, 0);
      if (fits(slot, 0, extra)) this.#shortSince.delete(slot);
      else if (slot.bandwidthLayer < 0 || this.#pauseDue(slot, nowMs)) return;
      plan[i] = 0;
      budget -= extra;
    });
    for (let raised = true; raised; ) {
      raised = false;
      video.forEach((slot, i) => {
        const layer = plan[i]!;
        if (layer < 0 || layer >= topOf(slot)) return;
        const extra = cost(slot, layer + 1) - cost(slot, layer);
        if (!fits(slot, layer + 1, extra)) return;
        plan[i] = layer + 1;
        budget -= extra;
        raised = true;
      });
    }
    video.forEach((slot, i) => {
      if (plan[i]! < topOf(slot)) this.#heldDown.add(slot);
      else this.#heldDown.delete(slot);
    });
    return plan;
  }

  #apply(video: AllocatableSlot[], plan: number[], nowMs: number): AllocationChanges {
    const changes: AllocationChanges = { paused: [], resumed: [] };
    let upgraded = false;
    let downgraded = false;
    video.forEach((slot, i) => {
      const before = slot.bandwidthLayer;
      const after = plan[i]!;
      if (after === before) return;
      // A cap above the preferred layer changes nothing the subscriber sees: not a downgrade.
      const top = topOf(slot);
      if (after < Math.min(before, top)) downgraded = true;
      if (after > before && before < top) upgraded = true;
      slot.setBandwidthLayer(after);
      if (after < 0) changes.paused.push(slot);
      else if (before < 0) changes.resumed.push(slot);
    });
    if (downgraded) this.#backOff(nowMs);
    if (upgraded) this.#lastUpgradeAt = nowMs;
    return changes;
  }

  /**
   * A video receiving something is paused only once its lowest layer has not fitted for
   * ALLOCATION.pauseAfterMs. The estimate dips for a moment after a failed upgrade (the loss of the
   * probe's own queue) and climbs back within about 2 s; pausing on that dip cost 4 s of video
   * (e2e/impaired-call.test.ts, 300 kbit/s). A link that really is too narrow pauses 2 s later.
   */
  #pauseDue(slot: AllocatableSlot, nowMs: number): boolean {
    const since = this.#shortSince.get(slot);
    if (since === undefined) {
      this.#shortSince.set(slot, nowMs);
      return false;
    }
    if (nowMs - since < ALLOCATION.pauseAfterMs) return false;
    this.#shortSince.delete(slot);
    return true;
  }

  #backOff(nowMs: number): void {
    const failedUpgrade = nowMs - this.#lastUpgradeAt < ALLOCATION.failedUpgradeWindowMs;
    this.#backoffMs = failedUpgrade
      ? Math.min(this.#backoffMs * 2, ALLOCATION.maxBackoffMs)
      : ALLOCATION.initialBackoffMs;
    this.#upgradeNotBefore = nowMs + this.#backoffMs;
  }
}
