/**
 * A real Chromium publishes VP8 through the SFU (worker process) and another Chromium page decodes
 * it: proves the SDP rewriting (setup:active, codec and extension filtering) against the browser,
 * not only against our node-datachannel test peers.
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

test('Chromium publishes through the SFU and another Chromium page decodes the video', async (t) => {
  if (!requireChromium(t)) return;
  const plane = await startPlane({ workers: 1 });
  const browser = await launch();
  try {
    const router = await plane.createRouter('chromium');
    const transport = await publishCanvas(await browser.newPage(), router, { width: 320, height: 240 });

    const subscriberPage = await browser.newPage();
    const subscriber = await router.createSubscriberTransport({ participantId: 'bob' });
    const { mid } = await subscriber.consume(transport.producer.id);
    await subscriber.setAnswer(await answerOffer(subscriberPage, await subscriber.createOffer()));

    const decoded = async () => (await inboundVideo(subscriberPage, mid)).framesDecoded;
    const frames = await pollUntil(decoded, (n) => n >= 30, 20_000);
    assert.ok(frames >= 30, `Chromium decoded ${frames} frames`);
    await sleep(1500);
    assert.ok((await decoded()) > frames, 'framesDecoded keeps increasing');

    const [pubStats, subStats] = await Promise.all([transport.getStats(), subscriber.getStats()]);
    t.diagnostic(`publisher SRTP ${pubStats.srtpProfile}, subscriber SRTP ${subStats.srtpProfile}`);
    assert.equal(pubStats.srtpProfile, 'AEAD_AES_256_GCM', 'setup:active made the SFU the DTLS server');
    assert.equal(subStats.srtpProfile, 'AEAD_AES_256_GCM');
  } finally {
    await browser.close();
    await plane.close();
  }
});
