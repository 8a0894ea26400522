/**
 * Token bucket per connection: `burst` messages at once, refilled at `perSecond`. A message that
 * finds the bucket empty is dropped (throttled). The bucket may run into debt down to -burst:
 * a client that keeps sending while throttled for that long is abusive and gets disconnected.
 */
export type RateVerdict = 'accept' | 'throttle' | 'disconnect';

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = burst;
    this.last = now();
  }

  take(): RateVerdict {
    this.refill();
    this.tokens -= 1;
    if (this.tokens >= 0) return 'accept';
    return this.tokens < -this.burst ? 'disconnect' : 'throttle';
  }

  private refill(): void {
    const at = this.now();
    const elapsedSeconds = Math.max(0, at - this.last) / 1000;
    this.last = at;
    this.tokens = Math.min(this.burst, this.tokens + elapsedSeconds * this.perSecond);
  }
}
