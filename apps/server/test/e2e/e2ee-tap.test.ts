/**
 * What the SFU forwards in an E2EE session is ciphertext. A Chromium participant publishes its
 * fake camera and microphone; a node-datachannel subscriber taps the RTP the SFU sends out and
 * puts the frames back together. The same run without E2EE is the control.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FRAME_MAGIC, readTrailer } from '@conclave/client/e2ee/frame-format';
import { releaseNodeDataChannel } from '@conclave/server/media/testing/rtp-peer';
import type { Browser } from 'playwright-core';
import { cryptorWith, entropy, heldKeys, RtpTap, recordKeys, sharesRun } from './e2ee-support.ts';
import {
  chromiumPresent,
  delay,
  type E2eServer,
  eventually,
  launchChromium,
  openParticipant,
  type Participant,
  requireChromium,
  startE2eServer,
} from './support.ts';

const SECRET = 'correct horse battery staple';

interface Capture {
  alice: Participant;
  aliceId: string;
  tap: RtpTap;
  videoMid: string;
  audioMid: string;
}

describe('E2EE: the RTP the SFU forwards', { timeout: 240_000 }, () => {
  let browser: Browser | undefined;
  let env: E2eServer | undefined;
  const captures: Capture[] = [];
  /** Opus frames the unencrypted run forwarded more than once: bytes the fake microphone makes. */
  const knownAudioFrames: Buffer[] = [];

  async function capture(e2ee: boolean): Promise<Capture> {
    const session = await env!.createSession({ mediaMode: 'routed', e2ee });
    const alice = await openParticipant(browser!, env!.url);
    await recordKeys(alice);
    const token = env!.sdk.createToken(session.id, { role: 'publisher', identity: 'alice' });
    const joined = await alice.call<{ connectionId?: string; error?: string }>('join', token, {
      sessionId: session.id,
      autoSubscribe: false,
      ...(e2ee ? { e2ee: { sharedSecret: SECRET } } : {}),
    });
    assert.equal(joined.error, undefined);
    const published = await alice.call<{ error?: string }>('publish', { audio: true, video: true });
    assert.equal(published.error, undefined);
    const tapToken = env!.sdk.createToken(session.id, { role: 'subscriber', identity: 'tap' });
    const tap = await RtpTap.join(env!.url, tapToken, session.id, e2ee);
    const streams = tap.client.joined!.streams;
    const videoMid = await tap.subscribe(streams.find((s) => s.kind === 'video')!.streamId);
    const audioMid = await tap.subscribe(streams.find((s) => s.kind === 'audio')!.streamId);
    await eventually(
      'the tap receives 60 video frames',
      async () => tap.videoFrames(videoMid).length,
      (n) => n >= 60,
      30_000,
    );
    await delay(500);
    const result = { alice, aliceId: joined.connectionId!, tap, videoMid, audioMid };
    captures.push(result);
    return result;
  }

  before(async () => {
    if (!chromiumPresent()) return;
    env = await startE2eServer();
    browser = await launchChromium();
  });

  after(async () => {
    for (const c of captures) {
      await c.tap.close().catch(() => undefined);
      await c.alice.close().catch(() => undefined);
    }
    await browser?.close();
    await env?.close();
    await releaseNodeDataChannel();
  });

  it('without E2EE the tap sees the plain VP8 and Opus frames (the control)', async (t) => {
    if (!requireChromium(t)) return;
    const { tap, videoMid, audioMid } = await capture(false);
    const video = tap.videoFrames(videoMid);
    const audio = tap.audioFrames(audioMid).map((f) => f.frame.toString('hex'));
    const tailBytes = Buffer.concat(video.map((f) => f.subarray(10)));
    t.diagnostic(
      `plain: ${video.length} video frames, entropy past header ${entropy(tailBytes).toFixed(3)} bits/byte; ` +
        `${audio.length} audio frames, ${new Set(audio).size} distinct`,
    );
    const counts = new Map<string, number>();
    for (const hex of audio) counts.set(hex, (counts.get(hex) ?? 0) + 1);
    for (const [hex, n] of counts) if (n > 1) knownAudioFrames.push(Buffer.from(hex, 'hex'));
    t.diagnostic(`repeated plain audio frames: ${knownAudioFrames.map((f) => f.length).join(', ')} bytes`);
    assert.ok(knownAudioFrames.length > 0, 'the fake microphone yields repeated Opus frames');
    const withTrailer = video.filter((f) => f[f.length - 1] === FRAME_MAGIC && readTrailer(f)).length;
    assert.ok(withTrailer < video.length / 10, 'plain frames do not look like E2EE frames');
  });

  it('with E2EE every forwarded frame is ciphertext past its clear header, and opens only with the key', async (t) => {
    if (!requireChromium(t)) return;
    const { alice, aliceId, tap, videoMid, audioMid } = await capture(true);
    const keys = (await heldKeys(alice)).filter((k) => k.type === 'localKey');
    const cryptor = await cryptorWith(keys, aliceId);
    const video = tap.videoFrames(videoMid);
    const audio = tap.audioFrames(audioMid).map((f) => f.frame);
    const forwarded = Buffer.concat([...video, ...audio]);
    let keyFrames = 0;
    for (const frame of video) {
      const trailer = readTrailer(frame);
      assert.ok(trailer, 'every video frame carries the E2EE trailer');
      const opened = await cryptor.decrypt(aliceId, frame);
      assert.ok(opened.ok, 'the sender key opens it');
      const plain = opened.data;
      const header = trailer.headerLength;
      assert.deepEqual(frame.subarray(0, header), Buffer.from(plain.subarray(0, header)), 'clear header');
      if (header === 10) {
        keyFrames++;
        assert.equal((plain[0]! & 0x01) === 0, true, 'keyframe bit in clear');
        assert.deepEqual([...plain.subarray(3, 6)], [0x9d, 0x01, 0x2a], 'VP8 start code in clear');
      }
      assert.equal(
        sharesRun(plain.subarray(header), forwarded),
        false,
        'no 16-byte run of the plain frame is forwarded',
      );
    }
    for (const frame of audio) {
      assert.equal(
        readTrailer(frame)?.headerLength,
        1,
        'every audio frame carries the trailer, 1 clear byte',
      );
      assert.ok((await cryptor.decrypt(aliceId, frame)).ok);
    }
    const tailBytes = Buffer.concat(
      video.map((f) => f.subarray(readTrailer(f)!.headerLength, f.length - 30)),
    );
    const distinctAudio = new Set(audio.map((f) => f.toString('hex'))).size;
    t.diagnostic(
      `e2ee: ${video.length} video frames (${keyFrames} keyframes), entropy past header ` +
        `${entropy(tailBytes).toFixed(3)} bits/byte; ${audio.length} audio frames, ${distinctAudio} distinct`,
    );
    assert.ok(keyFrames > 0, 'the tap saw a keyframe');
    // The SFU's own VP8 parser (keyframe gating, what the tap counts with) reads the clear header.
    const stream = tap.client.subscriberPeer!.streamForMid(videoMid)!;
    const before = stream.keyFrames;
    assert.ok(before > 0, 'the SFU parser finds keyframes in E2EE frames');
    tap.client.subscriberPeer!.sendPli(videoMid);
    await eventually(
      'a keyframe after a PLI',
      async () => stream.keyFrames,
      (n) => n > before,
      10_000,
    );
    const known = knownAudioFrames.filter((f) => f.length > 16);
    for (const frame of known) {
      assert.equal(
        forwarded.indexOf(frame.subarray(1)),
        -1,
        'a frame the fake microphone makes is not forwarded',
      );
    }
    assert.equal(distinctAudio, audio.length, 'no two audio frames are alike');
    const stranger = await cryptorWith(
      keys.map((k) => ({ ...k, material: k.material.map((b) => b ^ 0x5a) })),
      aliceId,
    );
    assert.equal((await stranger.decrypt(aliceId, video[0]!)).ok, false, 'another key does not open it');
  });
});
