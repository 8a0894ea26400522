/**
 * Simulcast through the SDK and the real server: the camera is published in three layers by
 * default; a subscriber caps its stream to 'low' through Subscriber.setPreferredLayer (the
 * setPreferredLayer signaling message) and decodes small frames, then asks for 'high' and gets
 * full-size frames without the picture freezing. The same holds in an end-to-end encrypted
 * session, where the SFU switches layers on keyframes it finds in the clear frame header, and
 * for a publisher that prefers H.264 (PublishOptions.videoCodec).
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { Browser } from 'playwright-core';
import {
  delay,
  type E2eServer,
  eventually,
  launchChromium,
  openParticipant,
  type Received,
  requireChromium,
  startE2eServer,
} from './support.ts';

let browser: Browser | undefined;
let env: E2eServer | undefined;
after(async () => {
  await browser?.close();
  await env?.close();
});

interface Case {
  title: string;
  e2ee: boolean;
  /** The published canvas; layers are a quarter of its width ('low') up to all of it ('high'). */
  width: number;
  height: number;
  /** Publish options beyond the canvas: the default is three VP8 layers. */
  publish: Record<string, unknown>;
  /** MIME type the subscriber must decode. */
  codec: string;
}

const CASES: Case[] = [
  { title: '', e2ee: false, width: 1280, height: 720, publish: {}, codec: 'video/VP8' },
  {
    title: ' in an end-to-end encrypted session',
    e2ee: true,
    width: 1280,
    height: 720,
    publish: {},
    codec: 'video/VP8',
  },
  {
    // Two layers of a small canvas, as in media/codecs.test.ts: Chromium's software H.264
    // encoder scales everything down on a loaded machine.
    title: ' with videoCodec H264',
    e2ee: false,
    width: 640,
    height: 360,
    publish: {
      videoCodec: 'H264',
      simulcast: [
        { rid: 'q', scaleResolutionDownBy: 4 },
        { rid: 'f', scaleResolutionDownBy: 1 },
      ],
    },
    codec: 'video/H264',
  },
];

for (const { title, e2ee, width, height, publish, codec } of CASES) {
  test(`a subscriber switches simulcast layers through the SDK${title}: low decodes small frames, high big ones`, {
    timeout: 180_000,
  }, async (t) => {
    if (!requireChromium(t)) return;
    env ??= await startE2eServer();
    browser ??= await launchChromium();
    const sessionId = (await env.createSession({ mediaMode: 'routed', e2ee })).id;
    const joinOptions = {
      sessionId,
      ...(e2ee ? { e2ee: { sharedSecret: 'correct horse battery staple' } } : {}),
    };
    const token = (identity: string, role: 'publisher' | 'subscriber') =>
      env!.sdk.createToken(sessionId, { role, identity, data: '{}' });

    const alice = await openParticipant(browser, env.url);
    assert.equal(
      (await alice.call<{ error?: string }>('join', token('alice', 'publisher'), joinOptions)).error,
      undefined,
    );
    const refused = await alice.call<{ error?: string }>('publishCanvasCamera', width, height, 'Alice', {
      videoCodec: 'VP9',
    });
    assert.equal(refused.error, 'invalid_argument', 'a codec the SFU does not forward is refused');
    const published = await alice.call<{ streamIds?: string[]; error?: string }>(
      'publishCanvasCamera',
      width,
      height,
      'Alice',
      publish,
    );
    assert.equal(published.error, undefined);
    const streamId = published.streamIds![0]!;

    const bob = await openParticipant(browser, env.url);
    assert.equal(
      (await bob.call<{ error?: string }>('join', token('bob', 'subscriber'), joinOptions)).error,
      undefined,
    );
    const video = async () => (await bob.call<Received[]>('received')).find((r) => r.streamId === streamId);
    await eventually('bob subscribed', video, (v) => v !== undefined);
    assert.deepEqual(await bob.call('setPreferredLayer', streamId, 'low'), { ok: true });

    const low = await eventually(
      'small frames of the low layer',
      video,
      (v) => !!v && v.framesDecoded > 30 && v.frameWidth > 0 && v.frameWidth <= (width / 4) * 1.25,
      40_000,
    );
    t.diagnostic(`low layer: ${low!.frameWidth} wide, ${low!.framesDecoded} frames, ${low!.codec}`);
    assert.equal(low!.codec, codec);

    assert.deepEqual(await bob.call('setPreferredLayer', streamId, 'high'), { ok: true });
    // The high layer flows once the publisher's uplink estimate allows it (transport-wide feedback).
    const high = await eventually(
      'full-size frames of the high layer',
      video,
      (v) => !!v && v.frameWidth >= width * 0.75,
      60_000,
    );
    t.diagnostic(`high layer: ${high!.frameWidth} wide, ${high!.codec}`);
    assert.equal(high!.codec, codec);
    await delay(2000);
    const later = (await video())!;
    assert.ok(
      later.framesDecoded > high!.framesDecoded + 10,
      'framesDecoded keeps increasing after the switch',
    );
    // From the request to the first big frame (later freezes while decoding 720p on a loaded
    // machine are not the switch's).
    const frozen = high!.totalFreezesDuration - low!.totalFreezesDuration;
    t.diagnostic(`frozen across the switch: ${frozen.toFixed(3)} s`);
    assert.ok(frozen < 0.5, `the picture froze for ${frozen.toFixed(3)} s across the switch`);
    await alice.close();
    await bob.close();
  });
}
