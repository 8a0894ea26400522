/**
 * Remembers the jti of every REST JWT until it expires, so a captured request cannot be
 * replayed. Bounded: entries live at most the REST JWT lifetime plus skew, and when the cache
 * is full of live entries new tokens are refused (fail closed) rather than evicting an entry,
 * which would reopen the window for the token it held.
 */
export class ReplayCache {
  readonly #maxEntries: number;
  /** `apiKey jti` -> expiry (epoch seconds); Map keeps insertion order for cheap sweeps. */
  readonly #seen = new Map<string, number>();

  constructor(maxEntries = 100_000) {
    this.#maxEntries = maxEntries;
  }

  get size(): number {
    return this.#seen.size;
  }

  /** Records the token; false when it was seen before (a replay) or the cache is full. */
  remember(apiKey: string, jti: string, expiresAt: number, nowSeconds: number): boolean {
    const key = `${apiKey} ${jti}`;
    const known = this.#seen.get(key);
    if (known !== undefined && known >= nowSeconds) return false;
    if (this.#seen.size >= this.#maxEntries) this.#sweep(nowSeconds);
    if (this.#seen.size >= this.#maxEntries) return false;
    this.#seen.set(key, expiresAt);
    return true;
  }

  #sweep(nowSeconds: number): void {
    for (const [key, expiresAt] of this.#seen) {
      if (expiresAt < nowSeconds) this.#seen.delete(key);
    }
  }
}
