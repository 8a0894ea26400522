/**
 * Simulcast through the SDK and the real server: the camera is published in three layers by
 * default; a subscriber caps its stream to 'low' through Subscriber.setPreferredLayer (the
 * setPreferredLayer signaling message) and decodes small frames, then asks for 'high' and gets
 * full-size frames without the picture freezing. The same holds in an end-to-end encrypted
 * session, where the SFU switches layers on keyframes it finds in the clear frame header.
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

for (const e2ee of [false, true]) {
  test(`a subscriber switches simulcast layers through the SDK${e2ee ? ' in an end-to-end encrypted session' : ''}: low decodes small frames, high big ones`, {
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
    const published = await alice.call<{ streamIds?: string[]; error?: string }>(
      'publishCanvasCamera',
      1280,
      720,
      'Alice',
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
      (v) => !!v && v.framesDecoded > 30 && v.frameWidth > 0 && v.frameWidth <= 400,
      40_000,
    );
    t.diagnostic(`low layer: ${low!.frameWidth} wide, ${low!.framesDecoded} frames`);

    assert.deepEqual(await bob.call('setPreferredLayer', streamId, 'high'), { ok: true });
    // The high layer flows once the publisher's uplink estimate allows it (transport-wide feedback).
    const high = await eventually(
      'full-size frames of the high layer',
      video,
      (v) => !!v && v.frameWidth >= 960,
      60_000,
    );
    t.diagnostic(`high layer: ${high!.frameWidth} wide`);
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
