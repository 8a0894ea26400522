/** media.maxPublishBitrate's token bucket (worker/ingress-limit.ts), on a clock the test drives. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IngressLimit } from '../../src/media/worker/ingress-limit.ts';

test('IngressLimit passes a second of burst, then only its rate', () => {
  const limit = new IngressLimit(8_000_000, 0); // 1,000,000 bytes per second
  let admitted = 0;
  for (let i = 0; i < 2000; i++) if (limit.admit(1000, 0)) admitted++;
  assert.equal(admitted, 1000, 'one second of burst at once');
  assert.equal(limit.dropped, 1000);
  admitted = 0;
  // 10 s of a publisher at 4x the cap, one 1,000-byte packet every 0.25 ms.
  for (let t = 0.25; t <= 10_000; t += 0.25) if (limit.admit(1000, t)) admitted++;
  assert.ok(Math.abs(admitted - 10_000) <= 1, `${admitted} packets of 1,000 bytes in 10 s at 1 MB/s`);
});

test('IngressLimit of 0 admits everything; an oversized packet never fits a small cap', () => {
  const open = new IngressLimit(0, 0);
  for (let i = 0; i < 1000; i++) assert.ok(open.admit(65_000, 0));
  const small = new IngressLimit(64_000, 0); // 8,000 bytes of depth
  assert.equal(small.admit(60_000, 1e9), false);
  assert.equal(small.admit(1000, 1e9), true);
});
