/**
 * Transport-wide feedback to publishers, against real Chromium: with transport-cc negotiated,
 * Chromium's uplink estimate depends entirely on our feedback (without it, it decays to ~30 kbps;
 * a broken one keeps it at 100-300 kbps). A correct one lets it ramp on loopback in seconds.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import {
  availableOutgoingBitrate,
  launch,
  pollUntil,
  publishCanvas,
  requireChromium,
} from './chromium-support.ts';
import { releaseNodeDataChannel, startPlane } from './support.ts';

after(releaseNodeDataChannel);

test("Chromium's uplink estimate ramps above 1 Mbps on the SFU's transport-wide feedback", async (t) => {
  if (!requireChromium(t)) return;
  const plane = await startPlane({ workers: 1 });
  const browser = await launch();
  try {
    const router = await plane.createRouter('bwe');
    const page = await browser.newPage();
    await publishCanvas(page, router, { width: 1280, height: 720 });
    const samples: number[] = [];
    const estimate = await pollUntil(
      async () => {
        const bps = await availableOutgoingBitrate(page);
        samples.push(Math.round(bps / 1000));
        return bps;
      },
      (bps) => bps > 1_000_000,
      // 2-10 s on a quiet machine (1.5-2 Mbps as soon as the first probe succeeds); on a loaded
      // one the probe can fail and the additive increase takes longer. Without feedback the
      // estimate falls to ~30 kbps instead, and a broken feedback keeps it at 100-300 kbps.
      60_000,
    );
    t.diagnostic(`availableOutgoingBitrate samples (kbps): ${samples.join(' ')}`);
    assert.ok(estimate > 1_000_000, `estimate ${Math.round(estimate / 1000)} kbps`);
  } finally {
    await browser.close();
    await plane.close();
  }
});
