import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffDelay } from '../src/backoff.ts';

test('backoffDelay() doubles up to the ceiling and stays within [ceiling/2, ceiling]', () => {
  const options = { initialMs: 100, maxMs: 1000 };
  const low = (attempt: number) => backoffDelay(attempt, { ...options, random: () => 0 });
  const high = (attempt: number) => backoffDelay(attempt, { ...options, random: () => 0.999999 });
  assert.deepEqual([0, 1, 2, 3, 4, 10].map(low), [50, 100, 200, 400, 500, 500]);
  assert.deepEqual([0, 1, 2, 3, 4, 10].map(high), [100, 200, 400, 800, 1000, 1000]);
});

test('backoffDelay() spreads clients apart (jitter)', () => {
  const delays = new Set(Array.from({ length: 50 }, () => backoffDelay(3)));
  assert.ok(delays.size > 10, `expected spread, got ${[...delays].join(',')}`);
});
