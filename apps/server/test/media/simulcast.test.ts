/**
 * Simulcast against real Chromium: a canvas published in three layers (rid q/h/f, scaled down by
 * 4/2/1); a subscriber page receives one layer at a time and the SFU switches layers on keyframes
 * without the picture freezing.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import {
  answerOffer,
  inboundVideo,
  launch,
  pollUntil,
  publishCanvas,
  requireChromium,
  sleep,
} from './chromium-support.ts';
import { releaseNodeDataChannel, startPlane } from './support.ts';

after(releaseNodeDataChannel);

const LAYERS = [
  { rid: 'q', scaleResolutionDownBy: 4 },
  { rid: 'h', scaleResolutionDownBy: 2 },
  { rid: 'f', scaleResolutionDownBy: 1 },
];

test('a subscriber capped to the low layer decodes small frames, and switching up gives big frames without a freeze', async (t) => {
  if (!requireChromium(t)) return;
  const plane = await startPlane({ workers: 1 });
  const browser = await launch();
  try {
    const router = await plane.createRouter('simulcast');
    const publisher = await publishCanvas(await browser.newPage(), router, {
      width: 1280,
      height: 720,
      encodings: LAYERS,
    });
    const page = await browser.newPage();
    const subscriber = await router.createSubscriberTransport({ participantId: 'bob' });
    const { consumerId, mid } = await subscriber.consume(publisher.producer.id);
    await subscriber.setPreferredLayer(consumerId, 'low');
    await subscriber.setAnswer(await answerOffer(page, await subscriber.createOffer()));

    const stats = () => inboundVideo(page, mid);
    const low = await pollUntil(stats, (s) => s.framesDecoded >= 30, 30_000);
    t.diagnostic(`low: ${low.frameWidth}x${low.frameHeight}, ${low.framesDecoded} frames`);
    assert.ok(low.framesDecoded >= 30, `decoded ${low.framesDecoded} frames of the low layer`);
    assert.ok(low.frameWidth > 0 && low.frameWidth <= 400, `low layer is about 320 wide: ${low.frameWidth}`);

    const beforeSwitch = await stats();
    await subscriber.setPreferredLayer(consumerId, 'high');
    // Chromium's encoder starts the high layer only once its uplink estimate allows it.
    const high = await pollUntil(stats, (s) => s.frameWidth >= 960, 45_000);
    t.diagnostic(`high: ${high.frameWidth}x${high.frameHeight}, ${high.framesDecoded} frames`);
    assert.ok(high.frameWidth >= 960, `high layer is about 1280 wide: ${high.frameWidth}`);
    // What the SFU forwards meanwhile, for the diagnostics: its estimate and the allowed layer.
    const downlink: string[] = [];
    for (let i = 0; i < 8; i++) {
      const d = await subscriber.getDownlinkStats();
      const c = d.consumers[0];
      downlink.push(`${d.signal}/${Math.round((d.estimateBps ?? 0) / 1000)}k:${c?.layer}/${c?.wantedLayer}`);
      await sleep(250);
    }
    t.diagnostic(`downlink after the switch (signal/estimate:layer/wanted): ${downlink.join(' ')}`);
    const after = await stats();
    assert.ok(
      after.framesDecoded > high.framesDecoded + 10,
      `framesDecoded keeps increasing (${high.framesDecoded} -> ${after.framesDecoded})`,
    );
    // Freeze statistics (a frame shown much longer than the average) from the request to the
    // first big frame: the old layer keeps flowing until the new one's keyframe, so the picture
    // does not stall. (Freezes later, while a loaded machine decodes 720p, are not the switch's.)
    const frozen = high.totalFreezesDuration - beforeSwitch.totalFreezesDuration;
    t.diagnostic(
      `freezes across the switch: ${high.freezeCount - beforeSwitch.freezeCount}, ${frozen.toFixed(3)} s`,
    );
    assert.ok(frozen < 0.5, `frozen for ${frozen.toFixed(3)} s across the switch`);

    await subscriber.setPreferredLayer(consumerId, 'low');
    const down = await pollUntil(stats, (s) => s.frameWidth > 0 && s.frameWidth <= 400, 20_000);
    assert.ok(down.frameWidth <= 400, `back on the low layer: ${down.frameWidth}`);
  } finally {
    await browser.close();
    await plane.close();
  }
});
