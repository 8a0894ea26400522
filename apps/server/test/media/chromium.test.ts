/**
 * A real Chromium publishes VP8 through the SFU (worker process) and another Chromium page decodes
 * it: proves the SDP rewriting (setup:active, codec and extension filtering) against the browser,
 * not only against our node-datachannel test peers.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, test } from 'node:test';
import { chromium } from 'playwright-core';
import { requireComponent } from '../support/env.ts';
import { releaseNodeDataChannel, startPlane } from './support.ts';

after(releaseNodeDataChannel);

const CHROMIUM = '/usr/bin/chromium';

test('Chromium publishes through the SFU and another Chromium page decodes the video', async (t) => {
  if (!requireComponent(t, 'chromium', existsSync(CHROMIUM))) return;
  const plane = await startPlane({ workers: 1 });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--allow-loopback-in-peer-connection',
      '--no-sandbox',
      '--force-fieldtrials=WebRTC-IPv6Default/Disabled/',
    ],
  });
  try {
    const router = await plane.createRouter('chromium');
    const publisherPage = await browser.newPage();
    const offer: string = await publisherPage.evaluate(async () => {
      const canvas = document.createElement('canvas');
      canvas.width = 320;
      canvas.height = 240;
      const context = canvas.getContext('2d')!;
      let frame = 0;
      setInterval(() => {
        context.fillStyle = `hsl(${(frame++ * 7) % 360} 80% 50%)`;
        context.fillRect(0, 0, 320, 240);
      }, 33);
      const track = canvas.captureStream(30).getVideoTracks()[0]!;
      const pc = new RTCPeerConnection();
      pc.addTransceiver(track, { direction: 'sendonly' });
      await pc.setLocalDescription();
      await new Promise<void>((resolve) => {
        if (pc.iceGatheringState === 'complete') resolve();
        pc.addEventListener(
          'icegatheringstatechange',
          () => pc.iceGatheringState === 'complete' && resolve(),
        );
      });
      (globalThis as unknown as { pc: RTCPeerConnection }).pc = pc;
      return pc.localDescription!.sdp;
    });
    const { transport, answerSdp } = await router.createPublisherTransport({
      participantId: 'alice',
      source: 'camera',
      kind: 'video',
      offerSdp: offer,
    });
    await publisherPage.evaluate(async (sdp) => {
      await (globalThis as unknown as { pc: RTCPeerConnection }).pc.setRemoteDescription({
        type: 'answer',
        sdp,
      });
    }, answerSdp);

    const subscriberPage = await browser.newPage();
    const subscriber = await router.createSubscriberTransport({ participantId: 'bob' });
    const { mid } = await subscriber.consume(transport.producer.id);
    const serverOffer = await subscriber.createOffer();
    const answer: string = await subscriberPage.evaluate(async (sdp) => {
      const pc = new RTCPeerConnection();
      (globalThis as unknown as { pc: RTCPeerConnection }).pc = pc;
      await pc.setRemoteDescription({ type: 'offer', sdp });
      await pc.setLocalDescription();
      await new Promise<void>((resolve) => {
        if (pc.iceGatheringState === 'complete') resolve();
        pc.addEventListener(
          'icegatheringstatechange',
          () => pc.iceGatheringState === 'complete' && resolve(),
        );
      });
      return pc.localDescription!.sdp;
    }, serverOffer);
    await subscriber.setAnswer(answer);

    const decoded = async () =>
      subscriberPage.evaluate(async (wantedMid) => {
        const pc = (globalThis as unknown as { pc: RTCPeerConnection }).pc;
        const receiver = pc.getTransceivers().find((x) => x.mid === wantedMid)?.receiver;
        const stats = receiver ? [...(await receiver.getStats()).values()] : [];
        const inbound = stats.find((s) => s.type === 'inbound-rtp') as { framesDecoded?: number } | undefined;
        return inbound?.framesDecoded ?? 0;
      }, mid);
    const deadline = Date.now() + 20_000;
    let frames = await decoded();
    while (frames < 30 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      frames = await decoded();
    }
    assert.ok(frames >= 30, `Chromium decoded ${frames} frames`);
    const later = Date.now() + 1500;
    while (Date.now() < later) await new Promise((r) => setTimeout(r, 200));
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
