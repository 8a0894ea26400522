import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KeyedRateLimiter } from '../../src/control/rest/rate-limit.ts';
import { bootAbuseServer } from '../security/support.ts';

test('KeyedRateLimiter: a burst, then one request per refill interval, per key', () => {
  let now = 0;
  const limiter = new KeyedRateLimiter({ perSecond: 2, burst: 3 }, () => now);
  assert.deepEqual(
    [1, 2, 3].map(() => limiter.take('a')),
    [0, 0, 0],
  );
  assert.equal(limiter.take('a'), 500, 'the fourth waits half a second at 2/s');
  assert.equal(limiter.take('b'), 0, 'another key has its own bucket');
  now += 500;
  assert.equal(limiter.take('a'), 0);
  assert.ok(limiter.take('a') > 0);
});

test('KeyedRateLimiter: the number of tracked keys is bounded', () => {
  const limiter = new KeyedRateLimiter({ perSecond: 1, burst: 1, maxKeys: 2 }, () => 0);
  limiter.take('a');
  limiter.take('b');
  limiter.take('c'); // evicts a, the least recently used
  assert.equal(limiter.take('a'), 0, 'an evicted key starts with a full bucket');
  assert.ok(limiter.take('c') > 0, 'a kept key keeps its state');
});

test('REST: repeated authentication failures from one address get 429 with Retry-After', {
  timeout: 60_000,
}, async (t) => {
  const s = await bootAbuseServer(t, { api: { authFailuresPerMinute: 5 } });
  const attempt = () =>
    fetch(`${s.url}/v1/sessions`, { headers: { authorization: 'Bearer not-a-token' } }).then(async (r) => ({
      status: r.status,
      retryAfter: r.headers.get('retry-after'),
      body: (await r.json()) as { error: { code: string } },
    }));
  const answers = [];
  for (let i = 0; i < 7; i++) answers.push(await attempt());
  assert.deepEqual(
    answers.map((a) => a.status),
    [401, 401, 401, 401, 401, 429, 429],
  );
  assert.equal(answers[5]!.body.error.code, 'rate_limited');
  assert.match(answers[5]!.retryAfter ?? '', /^[1-9]\d*$/);
  // Only the attempts that were actually checked reach the audit log: a flood cannot fill it.
  const failures = (await s.server.control.audit.list({ limit: 100 })).filter(
    (e) => e.action === 'rest.auth_failed',
  );
  assert.equal(failures.length, 5);
  await s.assertHealthy();
});
