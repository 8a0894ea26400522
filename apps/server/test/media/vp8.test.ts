/** VP8 payload descriptor reading and PictureID rewriting (what keeps simulcast switches seamless). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { emptyVp8Descriptor, readVp8Descriptor, writeVp8PictureId } from '@conclave/server/media/rtp/codecs';
import { preparePublishOffer } from '@conclave/server/media/sdp';
import fc from 'fast-check';

/** X=1, S=1, PID=0; I (+M) and L; TL0PICIDX; then the VP8 payload header (P bit = !keyframe). */
function vp8Payload(pictureId: number, long: boolean, tl0: number, keyFrame: boolean): Buffer {
  const picture = long ? [0x80 | (pictureId >> 8), pictureId & 0xff] : [pictureId & 0x7f];
  return Buffer.from([0x90, 0xc0, ...picture, tl0, keyFrame ? 0x00 : 0x01, 0, 0]);
}

test('readVp8Descriptor() finds PictureID, TL0PICIDX and keyframe starts; rewriting keeps the rest', () => {
  fc.assert(
    fc.property(
      fc.boolean(),
      fc.integer({ min: 0, max: 0x7fff }),
      fc.integer({ min: 0, max: 255 }),
      fc.boolean(),
      fc.integer({ min: 0, max: 0x7fff }),
      (long, id, tl0, key, next) => {
        const pictureId = long ? id : id & 0x7f;
        const packet = vp8Payload(pictureId, long, tl0, key);
        const d = emptyVp8Descriptor();
        readVp8Descriptor(packet, 0, d);
        assert.equal(d.pictureId, pictureId);
        assert.equal(d.pictureIdLong, long);
        assert.equal(d.tl0PicIdx, tl0);
        assert.equal(d.keyFrameStart, key);
        writeVp8PictureId(packet, d, next);
        readVp8Descriptor(packet, 0, d);
        assert.equal(d.pictureId, long ? next : next & 0x7f);
        assert.equal(d.tl0PicIdx, tl0, 'TL0PICIDX untouched');
        assert.equal(d.keyFrameStart, key, 'payload header untouched');
      },
    ),
  );
});

test('readVp8Descriptor() never reads past a truncated descriptor', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 8 }), (bytes) => {
      const d = emptyVp8Descriptor();
      readVp8Descriptor(bytes, 0, d);
      assert.ok(d.pictureIdAt < bytes.length && d.tl0PicIdxAt < bytes.length);
    }),
  );
});

test('preparePublishOffer() reads the simulcast rids in the order of a=simulcast', () => {
  const offer = [
    'v=0',
    'o=- 1 2 IN IP4 127.0.0.1',
    's=-',
    't=0 0',
    'm=video 9 UDP/TLS/RTP/SAVPF 96',
    'a=mid:0',
    'a=ice-ufrag:abcd',
    'a=ice-pwd:abcdefghijklmnopqrstuvwx',
    'a=fingerprint:sha-256 00:11',
    'a=setup:actpass',
    'a=sendonly',
    'a=rtpmap:96 VP8/90000',
    'a=rid:q send',
    'a=rid:h send',
    'a=rid:f send',
    'a=simulcast:send q;~h,x;f',
    '',
  ].join('\r\n');
  assert.deepEqual(preparePublishOffer(offer, 'video', true).rids, ['q', 'h', 'f']);
  assert.deepEqual(preparePublishOffer(offer.replace(/a=simulcast.*\r\n/, ''), 'video', true).rids, []);
});
