/**
 * A cap on what one publisher connection may push into the SFU (config media.maxPublishBitrate).
 * Without it a publisher sending far above any real encoder's rate makes the SFU forward the
 * whole excess to every subscriber: N subscribers, N times the flood. The cap is a token bucket
 * in bytes, one second deep, so a keyframe burst of a legitimate encoder passes whole; packets
 * beyond it are dropped before any forwarding work, so the abusive stream is what suffers.
 * Allocation-free: it runs per packet.
 */
export class IngressLimit {
  /** Packets refused since the start (the publisher was above its cap). */
  dropped = 0;
  readonly #bytesPerMs: number;
  readonly #depth: number;
  #tokens: number;
  #refilledAt: number;

  /** `bitsPerSecond` 0: no limit. */
  constructor(bitsPerSecond: number, now = performance.now()) {
    this.#bytesPerMs = bitsPerSecond / 8000;
    this.#depth = bitsPerSecond / 8;
    this.#tokens = this.#depth;
    this.#refilledAt = now;
  }

  /** true when a packet of `bytes` fits under the cap (and is counted against it). */
  admit(bytes: number, now = performance.now()): boolean {
    if (this.#bytesPerMs === 0) return true;
    this.#tokens = Math.min(this.#depth, this.#tokens + (now - this.#refilledAt) * this.#bytesPerMs);
    this.#refilledAt = now;
    if (this.#tokens < bytes) {
      this.dropped++;
      return false;
    }
    this.#tokens -= bytes;
    return true;
  }
}
