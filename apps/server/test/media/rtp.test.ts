/** RTP/RTCP helpers on raw bytes: the parsing every forwarded packet goes through. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isVp8KeyFrameStart } from '@conclave/server/media/rtp/codecs';
import { findHeaderExtension, padHeaderExtensions, payloadOffsetOf } from '@conclave/server/media/rtp/packet';
import { buildFir, buildPli, forEachKeyFrameRequest } from '@conclave/server/media/rtp/rtcp';
import fc from 'fast-check';

function packetWithExtensions(elements: number[]): Buffer {
  const words = Math.ceil(elements.length / 4);
  const packet = Buffer.alloc(12 + 4 + words * 4 + 4);
  packet[0] = 0x90;
  packet[1] = 96;
  packet.set([0xbe, 0xde, 0, words], 12);
  packet.set(elements, 16);
  return packet;
}

test('padHeaderExtensions() blanks mid and rid but keeps the others and the length', () => {
  // id 4 (mid, 1 byte "0"), id 2 (abs-send-time, 3 bytes), id 10 (rid, 1 byte "q")
  const packet = packetWithExtensions([0x40, 0x30, 0x22, 1, 2, 3, 0xa0, 0x71]);
  const drop = new Uint8Array(256);
  drop[4] = 1;
  drop[10] = 1;
  const length = packet.length;
  padHeaderExtensions(packet, drop);
  assert.equal(packet.length, length);
  assert.equal(findHeaderExtension(packet, 4), null);
  assert.equal(findHeaderExtension(packet, 10), null);
  assert.deepEqual(findHeaderExtension(packet, 2), [19, 3]);
  assert.equal(payloadOffsetOf(packet), 24);
});

test('padHeaderExtensions() and payloadOffsetOf() never read past any input', () => {
  const drop = new Uint8Array(256).fill(1);
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 12, maxLength: 80 }), (bytes) => {
      const packet = Buffer.from(bytes);
      packet[0] = 0x90 | (packet[0]! & 0x0f);
      padHeaderExtensions(packet, drop);
      const offset = payloadOffsetOf(packet);
      assert.ok(offset === -1 || offset <= packet.length);
      findHeaderExtension(packet, 4);
      isVp8KeyFrameStart(packet, Math.max(0, offset));
    }),
  );
});

test('forEachKeyFrameRequest() finds PLI and FIR targets in a compound packet and survives garbage', () => {
  const compound = Buffer.concat([buildPli(0x11111111), buildFir(0x22222222, 3)]);
  const seen: number[] = [];
  forEachKeyFrameRequest(compound, (ssrc) => seen.push(ssrc));
  assert.deepEqual(seen, [0x11111111, 0x22222222]);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      forEachKeyFrameRequest(Buffer.from(bytes), () => {});
    }),
  );
});

test('isVp8KeyFrameStart() tells keyframe starts from delta frames and continuation packets', () => {
  const key = Buffer.from([0x90, 0x80, 0x81, 0x23, 0x10, 0, 0, 0x9d, 0x01, 0x2a]);
  const delta = Buffer.from([0x90, 0x80, 0x81, 0x23, 0x11]);
  const continuation = Buffer.from([0x80, 0x80, 0x81, 0x23, 0x10]);
  assert.equal(isVp8KeyFrameStart(key, 0), true);
  assert.equal(isVp8KeyFrameStart(delta, 0), false);
  assert.equal(isVp8KeyFrameStart(continuation, 0), false);
});
