/** The RFC 6464 audio level header extension as it arrives in publishers' audio packets. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { audioLevelDbov, audioLevelVoice, readAudioLevel } from '@conclave/server/media/rtp/audio-level';
import { findHeaderExtension } from '@conclave/server/media/rtp/packet';
import fc from 'fast-check';

/** An Opus packet with a header extension block (`profile`: 0xbede or 0x1000) and 3 payload bytes. */
function packet(profile: number, elements: number[], csrcs = 0): Buffer {
  const words = Math.ceil(elements.length / 4);
  const header = 12 + csrcs * 4;
  const out = Buffer.alloc(header + 4 + words * 4 + 3, 0);
  out[0] = 0x90 | csrcs;
  out[1] = 111;
  out.writeUInt16BE(profile, header);
  out.writeUInt16BE(words, header + 2);
  out.set(elements, header + 4);
  out.set([0xfc, 0xff, 0xfe], header + 4 + words * 4);
  return out;
}

test('readAudioLevel() reads the one-byte form as Chromium sends it (after mid and transport-cc)', () => {
  // mid (id 4, "0"), transport-cc (id 3, 2 bytes), audio level (id 1): voice, -42 dBov
  const p = packet(0xbede, [0x40, 0x30, 0x31, 0x01, 0x02, 0x10, 0x80 | 42]);
  const raw = readAudioLevel(p, 1);
  assert.equal(audioLevelDbov(raw), 42);
  assert.equal(audioLevelVoice(raw), true);
  assert.equal(audioLevelVoice(readAudioLevel(packet(0xbede, [0x10, 127]), 1)), false);
  assert.equal(audioLevelDbov(readAudioLevel(packet(0xbede, [0x10, 127]), 1)), 127);
});

test('readAudioLevel() reads the two-byte form, with padding and CSRCs before it', () => {
  // padding byte, id 200 (3 bytes), id 9: length 1, -7 dBov without voice
  const p = packet(0x1000, [0, 200, 3, 1, 2, 3, 9, 1, 7], 2);
  assert.equal(readAudioLevel(p, 9), 7);
  // a longer element (some senders pad it): its first byte
  assert.equal(readAudioLevel(packet(0x1000, [9, 4, 0x85, 0, 0, 0]), 9), 0x85);
});

test('readAudioLevel() is -1 when the element is absent, empty, truncated or the packet has no extension', () => {
  assert.equal(readAudioLevel(packet(0xbede, [0x40, 0x30]), 1), -1, 'absent');
  assert.equal(readAudioLevel(packet(0x1000, [9, 0]), 9), -1, 'two-byte element of length 0');
  const truncated = packet(0xbede, [0x10, 50]).subarray(0, 17);
  assert.equal(readAudioLevel(truncated, 1), -1, 'extension block longer than the packet');
  const plain = packet(0xbede, [0x10, 50]);
  plain[0] = 0x80; // X bit cleared
  assert.equal(readAudioLevel(plain, 1), -1, 'no extension');
  assert.equal(readAudioLevel(packet(0xbede, [0x10, 50]), 0), -1, 'id 0 is padding, never an element');
  assert.equal(readAudioLevel(packet(0xabcd, [0x10, 50]), 1), -1, 'unknown profile');
});

test('readAudioLevel() agrees with findHeaderExtension() and stays inside any input', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 12, maxLength: 64 }),
      fc.integer({ min: 0, max: 255 }),
      (bytes, id) => {
        const p = Buffer.from(bytes);
        p[0] = 0x90 | (p[0]! & 0x0f);
        const raw = readAudioLevel(p, id);
        const found = findHeaderExtension(p, id);
        if (found === null || found[1] === 0) assert.equal(raw, -1);
        else assert.equal(raw, p[found[0]]);
        assert.ok(raw >= -1 && raw <= 255 && Number.isInteger(raw));
      },
    ),
  );
});
