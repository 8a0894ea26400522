/**
 * Codecs against real Chromium: a canvas published as H.264 only (setCodecPreferences), in two
 * simulcast layers, decodes on a subscriber page, and the SFU switches layers on H.264 keyframes;
 * Opus is negotiated with in-band FEC and DTX in the SDP the browser gets, both ways.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import {
  answerOffer,
  canvasOffer,
  inboundVideo,
  launch,
  pollUntil,
  requireChromium,
  setAnswer,
} from './chromium-support.ts';
import { releaseNodeDataChannel, startPlane } from './support.ts';

after(releaseNodeDataChannel);

test('a Chromium publisher sending H.264 only is decoded by a subscriber, across a layer switch', async (t) => {
  if (!requireChromium(t)) return;
  const plane = await startPlane({ workers: 1 });
  const browser = await launch();
  try {
    const router = await plane.createRouter('h264');
    const publisherPage = await browser.newPage();
    const offerSdp = await canvasOffer(publisherPage, {
      // Two layers of a small canvas: a loaded machine makes Chromium's software H.264 encoder
      // scale everything down, and the test is about the SFU's switch, not the encoder.
      width: 640,
      height: 360,
      codec: 'H264',
      encodings: [
        { rid: 'q', scaleResolutionDownBy: 4 },
        { rid: 'f', scaleResolutionDownBy: 1 },
      ],
    });
    assert.doesNotMatch(offerSdp, /VP8/, 'the publisher offers H.264 only');
    const { transport, answerSdp } = await router.createPublisherTransport({
      participantId: 'alice',
      source: 'camera',
      kind: 'video',
      offerSdp,
    });
    assert.match(answerSdp, /a=rtpmap:\d+ H264\/90000/);
    await setAnswer(publisherPage, answerSdp);

    const page = await browser.newPage();
    const subscriber = await router.createSubscriberTransport({ participantId: 'bob' });
    const { consumerId, mid } = await subscriber.consume(transport.producer.id);
    await subscriber.setPreferredLayer(consumerId, 'low');
    const offer = await subscriber.createOffer();
    assert.match(offer, /a=rtpmap:102 H264\/90000/, 'the subscriber is offered H.264');
    assert.match(offer, /packetization-mode=1/);
    await subscriber.setAnswer(await answerOffer(page, offer));
    const stats = () => inboundVideo(page, mid);
    const low = await pollUntil(stats, (s) => s.framesDecoded >= 30, 30_000);
    t.diagnostic(`low: ${low.frameWidth}x${low.frameHeight}, ${low.framesDecoded} frames`);
    assert.ok(low.framesDecoded >= 30, `decoded ${low.framesDecoded} H.264 frames`);
    assert.ok(low.frameWidth > 0 && low.frameWidth <= 160, `the low layer: ${low.frameWidth} wide`);
    const codec = await page.evaluate(async () => {
      const pc = (globalThis as unknown as { pc: RTCPeerConnection }).pc;
      const all = [...(await pc.getStats()).values()];
      const inbound = all.find((s) => s.type === 'inbound-rtp' && s.kind === 'video');
      return all.find((s) => s.id === inbound?.codecId)?.mimeType as string | undefined;
    });
    assert.equal(codec, 'video/H264', 'the subscriber decodes H.264');

    await subscriber.setPreferredLayer(consumerId, 'high');
    // Anything over 160 wide is the full layer (the quarter layer of a 640 canvas is at most 160).
    const high = await pollUntil(stats, (s) => s.frameWidth >= 320, 45_000);
    t.diagnostic(`high: ${high.frameWidth}x${high.frameHeight}, ${high.framesDecoded} frames`);
    assert.ok(high.frameWidth >= 320, `switched to the high layer on its keyframe: ${high.frameWidth} wide`);
    assert.ok(high.framesDecoded > low.framesDecoded, 'decoding went on across the switch');
  } finally {
    await browser.close();
    await plane.close();
  }
});

test('Opus is negotiated with useinbandfec=1 and usedtx=1 in the SDP Chromium gets', async (t) => {
  if (!requireChromium(t)) return;
  const plane = await startPlane({ workers: 1 });
  const browser = await launch();
  try {
    const router = await plane.createRouter('opus');
    const page = await browser.newPage();
    const offerSdp = await page.evaluate(async () => {
      const context = new AudioContext();
      const oscillator = context.createOscillator();
      const destination = context.createMediaStreamDestination();
      oscillator.connect(destination);
      oscillator.start();
      const pc = new RTCPeerConnection();
      pc.addTransceiver(destination.stream.getAudioTracks()[0]!, { direction: 'sendonly' });
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
      source: 'microphone',
      kind: 'audio',
      offerSdp,
    });
    await setAnswer(page, answerSdp);
    const applied = await page.evaluate(
      () => (globalThis as unknown as { pc: RTCPeerConnection }).pc.currentRemoteDescription?.sdp ?? '',
    );
    assert.match(applied, /^a=fmtp:\d+ .*useinbandfec=1.*$/m, 'publish answer: in-band FEC');
    assert.match(applied, /^a=fmtp:\d+ .*usedtx=1.*$/m, 'publish answer: DTX');

    const subscriberPage = await browser.newPage();
    const subscriber = await router.createSubscriberTransport({ participantId: 'bob' });
    await subscriber.consume(transport.producer.id);
    await subscriber.setAnswer(await answerOffer(subscriberPage, await subscriber.createOffer()));
    const remote = await subscriberPage.evaluate(
      () => (globalThis as unknown as { pc: RTCPeerConnection }).pc.currentRemoteDescription?.sdp ?? '',
    );
    // Chromium sorts fmtp parameters when it parses them: check each, not their order.
    const fmtp = /^a=fmtp:111 (.*)$/m.exec(remote)?.[1]?.split(';') ?? [];
    assert.ok(fmtp.includes('useinbandfec=1') && fmtp.includes('usedtx=1'), `subscriber offer: ${fmtp}`);
    const local = await subscriberPage.evaluate(
      () => (globalThis as unknown as { pc: RTCPeerConnection }).pc.currentLocalDescription?.sdp ?? '',
    );
    assert.match(local, /^a=fmtp:111 .*useinbandfec=1/m, "Chromium's answer keeps in-band FEC");
  } finally {
    await browser.close();
    await plane.close();
  }
});
