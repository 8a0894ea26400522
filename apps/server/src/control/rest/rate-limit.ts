/**
 * Token buckets by key (an API key, or a source address for failed authentications). A bucket
 * holds `burst` requests and refills at `perSecond`. The map is bounded: past `maxKeys`, the
 * least recently used bucket is dropped (a dropped key starts again with a full bucket, which
 * only ever errs towards serving).
 */
export interface RateLimitSettings {
  perSecond: number;
  burst: number;
  maxKeys?: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class KeyedRateLimiter {
  readonly #buckets = new Map<string, Bucket>();
  readonly #perMs: number;
  readonly #burst: number;
  readonly #maxKeys: number;
  readonly #now: () => number;

  constructor(settings: RateLimitSettings, now: () => number = Date.now) {
    this.#perMs = settings.perSecond / 1000;
    this.#burst = settings.burst;
    this.#maxKeys = settings.maxKeys ?? 100_000;
    this.#now = now;
  }

  /** Takes one token for `key`; returns 0 when allowed, else the milliseconds until one is. */
  take(key: string): number {
    const bucket = this.#refilled(key);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - bucket.tokens) / this.#perMs);
  }

  /** Milliseconds until `key` has a token again, without taking one (0 when it has). */
  waitFor(key: string): number {
    const bucket = this.#refilled(key);
    return bucket.tokens >= 1 ? 0 : Math.ceil((1 - bucket.tokens) / this.#perMs);
  }

  #refilled(key: string): Bucket {
    const now = this.#now();
    let bucket = this.#buckets.get(key);
    if (bucket) {
      this.#buckets.delete(key); // re-inserted below: Map order is the LRU order
      bucket.tokens = Math.min(this.#burst, bucket.tokens + (now - bucket.at) * this.#perMs);
      bucket.at = now;
    } else {
      bucket = { tokens: this.#burst, at: now };
      if (this.#buckets.size >= this.#maxKeys) {
        const oldest = this.#buckets.keys().next().value;
        if (oldest !== undefined) this.#buckets.delete(oldest);
      }
    }
    this.#buckets.set(key, bucket);
    return bucket;
  }
}
