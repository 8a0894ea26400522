/** Transport-wide congestion control feedback: builder, parser and the arrival recorder. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  buildTransportFeedback,
  MAX_STATUSES_PER_FEEDBACK,
  parseTransportFeedback,
  TwccRecorder,
} from '@conclave/server/media/rtp/twcc';
import fc from 'fast-check';

const delta = fc.oneof(
  fc.constant(null),
  fc.integer({ min: 0, max: 255 }).map((u) => u * 250), // small
  fc.integer({ min: -0x8000, max: 0x7fff }).map((u) => u * 250), // large or negative
);

test('transport feedback round-trips through build and parse (any mix of statuses)', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 0xffff }),
      fc.integer({ min: -0x800000, max: 0x7fffff }),
      fc.integer({ min: 0, max: 255 }),
      fc.array(delta, { minLength: 1, maxLength: 600 }),
      (base, referenceTime, feedbackCount, deltas) => {
        const feedback = {
          senderSsrc: 1,
          mediaSsrc: 0xdeadbeef,
          baseSequence: base,
          referenceTime,
          feedbackCount,
          packets: deltas.map((deltaUs, i) => ({ sequence: (base + i) & 0xffff, deltaUs })),
        };
        const packet = buildTransportFeedback(feedback);
        assert.equal(packet.length % 4, 0, 'padded to 32 bits');
        assert.equal(((packet[2]! << 8) | packet[3]!) + 1, packet.length / 4, 'length field');
        assert.deepEqual(parseTransportFeedback(packet), feedback);
      },
    ),
    { numRuns: 500 },
  );
});

test('parseTransportFeedback() refuses truncated packets instead of reading past them', () => {
  const packet = buildTransportFeedback({
    senderSsrc: 1,
    mediaSsrc: 2,
    baseSequence: 10,
    referenceTime: 5,
    feedbackCount: 0,
    packets: Array.from({ length: 30 }, (_, i) => ({ sequence: 10 + i, deltaUs: i % 3 ? 1000 : 100_000 })),
  });
  for (let cut = 4; cut < packet.length; cut += 4) {
    const truncated = Buffer.from(packet.subarray(0, cut));
    truncated.writeUInt16BE(cut / 4 - 1, 2);
    assert.equal(parseTransportFeedback(truncated), null, `cut at ${cut}`);
  }
});

test('TwccRecorder reports every arrival once, with deltas matching arrival times, and losses', () => {
  const recorder = new TwccRecorder();
  const arrivals = new Map<number, number>();
  // 0xfff0.. wraps through 0: sequence numbers are 16-bit.
  for (let i = 0; i < 100; i++) {
    if (i % 10 === 3) continue; // lost
    const sequence = (0xfff0 + i) & 0xffff;
    const at = 1_000_000 + i * 1_250 + (i % 7) * 300;
    recorder.record(sequence, at);
    arrivals.set(sequence, at);
  }
  const packets = recorder.buildFeedback(42).map((p) => parseTransportFeedback(p)!);
  assert.equal(packets.length, 1);
  const [feedback] = packets;
  assert.equal(feedback!.baseSequence, 0xfff0);
  assert.equal(feedback!.mediaSsrc, 42);
  let time = feedback!.referenceTime * 64_000;
  let lost = 0;
  for (const { sequence, deltaUs } of feedback!.packets) {
    if (deltaUs === null) {
      lost++;
      assert.ok(!arrivals.has(sequence));
      continue;
    }
    time += deltaUs;
    assert.ok(Math.abs(time - arrivals.get(sequence)!) <= 125, `arrival of ${sequence} within quantization`);
  }
  assert.equal(lost, 10);
  assert.equal(recorder.lost.length, 10);
  assert.deepEqual(recorder.buildFeedback(42), [], 'nothing new: no feedback');
  recorder.record((0xfff0 + 100) & 0xffff, 1_200_000);
  const next = parseTransportFeedback(recorder.buildFeedback(42)[0]!)!;
  assert.equal(next.baseSequence, (0xfff0 + 100) & 0xffff, 'the next window starts after the last one');
  assert.equal(next.feedbackCount, 1);
});

test('TwccRecorder splits long windows and arrival gaps too large for one delta', () => {
  const recorder = new TwccRecorder();
  for (let i = 0; i < MAX_STATUSES_PER_FEEDBACK + 50; i++) recorder.record(i, i * 1000);
  recorder.record(MAX_STATUSES_PER_FEEDBACK + 50, 20_000_000); // 20 s later: beyond a 2-byte delta
  const packets = recorder.buildFeedback(1).map((p) => parseTransportFeedback(p)!);
  assert.equal(packets.length, 3);
  assert.deepEqual(
    packets.map((p) => p.packets.length),
    [MAX_STATUSES_PER_FEEDBACK, 50, 1],
  );
  assert.ok(packets.every((p) => p.packets.every((s) => s.deltaUs !== null)));
});

test('TwccRecorder re-reports from a late packet that arrives after its window was sent', () => {
  const recorder = new TwccRecorder();
  recorder.record(1, 0);
  recorder.record(3, 2000);
  const first = parseTransportFeedback(recorder.buildFeedback(1)[0]!)!;
  assert.deepEqual(
    first.packets.map((p) => p.deltaUs !== null),
    [true, false, true],
  );
  recorder.record(2, 3000);
  const second = parseTransportFeedback(recorder.buildFeedback(1)[0]!)!;
  assert.equal(second.baseSequence, 2, 'the late packet is reported as received');
});
