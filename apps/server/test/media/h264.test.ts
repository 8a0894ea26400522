/**
 * H.264 keyframe detection (rtp/h264.ts) and the loss-recovery packet helpers (rtp/nack.ts) as
 * properties over generated packets: what they must find, they find; what they must not, they don't.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isH264KeyFrameStart, NAL_FU_A, NAL_IDR, NAL_SPS, NAL_STAP_A } from '@conclave/server/media/rtp/h264';
import { buildNack, forEachNackedSequence, unwrapRtx, wrapRtx } from '@conclave/server/media/rtp/nack';
import fc from 'fast-check';

const nalHeader = (type: number) => 0x60 | type; // NRI 3
const keyTypes = fc.constantFrom(NAL_IDR, NAL_SPS);
const otherTypes = fc.integer({ min: 1, max: 23 }).filter((t) => t !== NAL_IDR && t !== NAL_SPS);
const body = fc.uint8Array({ minLength: 1, maxLength: 40 });

test('a single NAL unit starts a keyframe exactly when it is an IDR slice or an SPS', () => {
  fc.assert(
    fc.property(fc.oneof(keyTypes, otherTypes), body, (type, rest) => {
      const payload = Uint8Array.from([nalHeader(type), ...rest]);
      assert.equal(isH264KeyFrameStart(payload, 0), type === NAL_IDR || type === NAL_SPS);
    }),
  );
});

test('an FU-A starts a keyframe only on its first fragment of an IDR or SPS', () => {
  fc.assert(
    fc.property(fc.oneof(keyTypes, otherTypes), fc.boolean(), body, (type, start, rest) => {
      const payload = Uint8Array.from([nalHeader(NAL_FU_A), (start ? 0x80 : 0x00) | type, ...rest]);
      assert.equal(isH264KeyFrameStart(payload, 0), start && (type === NAL_IDR || type === NAL_SPS));
    }),
  );
});

test('a STAP-A starts a keyframe when any aggregated unit is an IDR or SPS', () => {
  const unit = fc.tuple(fc.oneof(keyTypes, otherTypes), body);
  fc.assert(
    fc.property(fc.array(unit, { minLength: 1, maxLength: 5 }), fc.nat(12), (units, offset) => {
      const parts = units.flatMap(([type, rest]) => {
        const size = rest.length + 1;
        return [size >> 8, size & 0xff, nalHeader(type), ...rest];
      });
      const packet = Uint8Array.from([...new Array(offset).fill(0xee), nalHeader(NAL_STAP_A), ...parts]);
      const expected = units.some(([type]) => type === NAL_IDR || type === NAL_SPS);
      assert.equal(isH264KeyFrameStart(packet, offset), expected);
      // Cut before the first unit's header: nothing left to find.
      assert.equal(isH264KeyFrameStart(packet.subarray(0, offset + 3), offset), false);
    }),
  );
});

test('buildNack() then forEachNackedSequence() gives back the same sequence numbers', () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.integer({ min: 0, max: 0xffff }), { minLength: 1, maxLength: 60 }),
      (lost) => {
        const seen: number[] = [];
        forEachNackedSequence(buildNack(0x1234, lost), (ssrc, sequence) => {
          assert.equal(ssrc, 0x1234);
          seen.push(sequence);
        });
        assert.deepEqual(new Set(seen), new Set(lost));
        assert.equal(seen.length, lost.length, 'each sequence number once');
      },
    ),
  );
  const burst = buildNack(1, [100, 101, 102, 116]);
  assert.equal(burst.length, 16, 'a run within 16 of its first loss shares one FCI entry');
});

test('unwrapRtx(wrapRtx(packet)) restores the media packet byte for byte', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 1, maxLength: 200 }),
      fc.integer({ min: 0, max: 0xffff }),
      (payload, seq) => {
        const media = Buffer.alloc(12 + payload.length);
        media[0] = 0x80;
        media[1] = 96;
        media.writeUInt16BE(seq, 2);
        media.writeUInt32BE(0xabcdef01, 8);
        media.set(payload, 12);
        const rtx = wrapRtx(media, Buffer.alloc(300), { payloadType: 97, ssrc: 42, sequence: 7 });
        assert.ok(rtx);
        assert.equal(rtx.readUInt16BE(12), seq, 'OSN in the first two payload bytes');
        assert.equal(rtx[1]! & 0x7f, 97);
        const restored = unwrapRtx(rtx, Buffer.alloc(300), { payloadType: 96, ssrc: 0xabcdef01 });
        assert.ok(restored);
        assert.ok(restored.equals(media));
      },
    ),
  );
  const padding = Buffer.from([0xa0, 97, 0, 1, 0, 0, 0, 0, 0, 0, 0, 42, 0, 0, 0, 4]);
  assert.equal(unwrapRtx(padding, Buffer.alloc(64), { payloadType: 96, ssrc: 1 }), null, 'padding-only RTX');
});
