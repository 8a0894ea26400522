/**
 * Loss recovery on a publisher's uplink (worker/nack-generator.ts, worker/publisher-rtx.ts): a
 * Chromium canvas publisher sends through the impairment proxy with 5% loss toward the SFU; the
 * SFU NACKs what the transport-wide feedback reported lost, restores Chromium's RTX and forwards
 * it, so a Chromium subscriber on a clean link sees almost no loss and keeps decoding.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { ImpairmentProxy, stripClientCandidates } from '@conclave/server/media/testing/impairment-proxy';
import {
  answerOffer,
  canvasOffer,
  inboundVideo,
  launch,
  pollUntil,
  requireChromium,
  setAnswer,
  sleep,
} from './chromium-support.ts';
import { releaseNodeDataChannel, startPlane } from './support.ts';

after(releaseNodeDataChannel);

test('5% loss on a Chromium publisher uplink is repaired by NACK and RTX before subscribers see it', async (t) => {
  if (!requireChromium(t)) return;
  const plane = await startPlane({ workers: 1 });
  const proxy = await ImpairmentProxy.start({
    target: { address: '127.0.0.1', port: plane.workers()[0]!.port },
    seed: 9,
  });
  const browser = await launch();
  try {
    const router = await plane.createRouter('publisher-nack');
    const publisherPage = await browser.newPage();
    const offerSdp = stripClientCandidates(await canvasOffer(publisherPage, { width: 640, height: 360 }));
    const { transport: publisher, answerSdp } = await router.createPublisherTransport({
      participantId: 'alice',
      source: 'camera',
      kind: 'video',
      offerSdp,
    });
    await setAnswer(publisherPage, proxy.rewriteServerSdp(answerSdp));

    const page = await browser.newPage();
    const subscriber = await router.createSubscriberTransport({ participantId: 'bob' });
    const { mid } = await subscriber.consume(publisher.producer.id);
    await subscriber.setAnswer(await answerOffer(page, await subscriber.createOffer()));
    const stats = () => inboundVideo(page, mid);
    const started = await pollUntil(stats, (s) => s.framesDecoded >= 30, 30_000);
    assert.ok(started.framesDecoded >= 30, 'the subscriber decodes before the loss starts');

    proxy.configure('toServer', { loss: 0.05 });
    const before = await stats();
    await sleep(12_000);
    const during = await stats();
    proxy.configure('toServer', { loss: 0 });
    const toServer = proxy.counters('toServer');
    const received = during.packetsReceived - before.packetsReceived;
    const lost = during.packetsLost - before.packetsLost;
    const frames = during.framesDecoded - before.framesDecoded;
    const freezes = during.freezeCount - before.freezeCount;
    console.log(
      `5% uplink loss for 12 s: proxy dropped ${toServer.dropped} of ${toServer.received} datagrams toward the SFU; ` +
        `subscriber received ${received} packets, lost ${lost}, decoded ${frames} frames, ${freezes} freezes ` +
        `(${(during.totalFreezesDuration - before.totalFreezesDuration).toFixed(2)} s)`,
    );
    assert.ok(toServer.dropped > 20, `the proxy dropped ${toServer.dropped} datagrams toward the SFU`);
    assert.ok(received > 500, `${received} packets received`);
    // Without NACK toward the publisher about 5% would be missing: the SFU cannot resend what it never got.
    assert.ok(lost / (received + lost) < 0.01, `the subscriber lost ${lost} of ${received + lost} packets`);
    assert.ok(frames > 100, `the picture keeps moving: ${frames} frames in 12 s`);
    // Freezes also come from a loaded machine (the decoder falls behind), so bound the frozen time:
    // without the NACKs the picture stood still for ~9.5 s of the 12.
    const frozen = during.totalFreezesDuration - before.totalFreezesDuration;
    assert.ok(frozen < 4, `${freezes} freezes, ${frozen.toFixed(2)} s frozen`);
  } finally {
    await browser.close();
    await proxy.close();
    await plane.close();
  }
});
