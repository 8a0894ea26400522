/**
 * Reconnection delays: exponential back-off with full jitter, so that a server restart does not
 * bring every client back in the same millisecond.
 */
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  /** Source of randomness in [0, 1); injectable for tests. */
  random?: () => number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 250, maxMs: 5000 };

/** Delay before reconnection attempt `attempt` (0-based): uniform in [ceiling/2, ceiling]. */
export function backoffDelay(attempt: number, options: BackoffOptions = DEFAULT_BACKOFF): number {
  const random = options.random ?? Math.random;
  const ceiling = Math.min(options.maxMs, options.initialMs * 2 ** Math.max(0, attempt));
  // Half fixed, half random: quick first retry, still spread out.
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
