/**
 * The share of a subscriber connection's downlink that retransmissions may take.
 *
 * Without it a downlink that has just become too narrow is kept full by retransmissions of what
 * it lost: measured at a 300 kbit/s cap, the NACKed packets of the high layer (1,000 bytes each,
 * up to 200 a second per slot) went on after the switch to the low layer, were lost again, and
 * the low layer stalled. libwebrtc paces retransmissions inside its bandwidth estimate for the
 * same reason.
 *
 * A token bucket in bytes, refilled at RETRANSMISSION.share of the downlink estimate while the
 * estimate is constrained (downlink-estimator.ts), holding RETRANSMISSION.burstMs of that rate.
 * Unlimited while the estimate is not constrained: a healthy link repairs every loss (each slot's
 * own limit in nack-responder.ts still holds).
 */
export const RETRANSMISSION = {
  share: 0.25,
  burstMs: 250,
} as const;

export class RetransmissionBudget {
  #bytesPerMs = Number.POSITIVE_INFINITY;
  #tokens = 0;
  #refilledAt = -1;

  /** The connection's downlink estimate, or Infinity when it is not constrained. */
  setEstimate(estimateBps: number): void {
    const bytesPerMs = (estimateBps * RETRANSMISSION.share) / 8000;
    if (bytesPerMs === this.#bytesPerMs) return;
    if (!Number.isFinite(this.#bytesPerMs)) this.#refilledAt = -1; // start with a full bucket
    this.#bytesPerMs = bytesPerMs;
  }

  /** True when a retransmission of `bytes` may be sent now (and takes them from the budget). */
  take(bytes: number, nowMs: number): boolean {
    if (!Number.isFinite(this.#bytesPerMs)) return true;
    const capacity = this.#bytesPerMs * RETRANSMISSION.burstMs;
    this.#tokens =
      this.#refilledAt < 0
        ? capacity
        : Math.min(capacity, this.#tokens + this.#bytesPerMs * (nowMs - this.#refilledAt));
    this.#refilledAt = nowMs;
    if (this.#tokens < bytes) return false;
    this.#tokens -= bytes;
    return true;
  }
}
