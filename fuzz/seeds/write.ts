/**
 * Writes the hand-made valid samples into fuzz/corpus/<target>/seed-* so every jsfuzz run starts
 * from real protocol shapes, not from an empty buffer: `node --import tsx fuzz/seeds/write.ts`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as samples from './samples.ts';

const corpus = new URL('../corpus/', import.meta.url).pathname;

function seed(target: string, name: string, data: Buffer | string): void {
  mkdirSync(join(corpus, target), { recursive: true });
  writeFileSync(join(corpus, target, `seed-${name}`), data);
}

const withSelector = (selector: number, data: Buffer | string) =>
  Buffer.concat([Buffer.from([selector]), Buffer.from(data)]);

seed('rtp', 'one-byte', withSelector(0, samples.rtpOneByteExtension()));
seed('rtp', 'two-byte', withSelector(1, samples.rtpTwoByteExtension()));
seed('rtp', 'plain', withSelector(2, samples.rtpPlain()));
seed('rtp', 'audio-level', withSelector(3, samples.rtpAudioLevel()));
seed('rtcp', 'compound', samples.rtcpCompound());
seed('vp8', 'key-frame', withSelector(0, samples.vp8KeyFrame()));
seed(
  'vp8',
  'in-rtp',
  withSelector(12, Buffer.concat([samples.rtpPlain().subarray(0, 12), samples.vp8KeyFrame()])),
);
seed('h264', 'key-frame', withSelector(0, samples.h264KeyFrame()));
seed('nack', 'nack-and-rtx', withSelector(16, samples.nackAndRtx()));
seed('sdp', 'video-offer', withSelector(1, samples.chromiumVideoOffer()));
seed('sdp', 'audio-offer', withSelector(2, samples.chromiumAudioOffer()));
seed('sdp', 'simulcast-answer', withSelector(3, samples.simulcastAnswer()));
for (const [i, message] of samples.SIGNALING_MESSAGES.entries())
  seed('signaling', String(i), JSON.stringify(message));
for (const [i, text] of samples.CONFIG_FILES.entries()) seed('config', String(i), text);
