/**
 * ActiveSpeakerDetector on synthetic level sequences: one sample every 300 ms per producer, as
 * the router feeds it. What a user would notice: who is shown as speaking, who has the big tile
 * (the first of the list), and that it does not flicker.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ACTIVE_SPEAKER,
  type ActiveSpeaker,
  ActiveSpeakerDetector,
  AudioLevelMeter,
  loudnessOf,
} from '@conclave/server/media/worker/active-speaker-detector';

const TICK = ACTIVE_SPEAKER.sampleMs;

interface Report {
  at: number;
  ids: string[];
  speakers: ActiveSpeaker[];
}

/** Drives a detector through time; `levels(t)` gives each present producer's loudness at t. */
class Script {
  readonly detector = new ActiveSpeakerDetector();
  readonly reports: Report[] = [];
  /** Dominant speaker after every sample. */
  readonly dominants: { at: number; id: string | null }[] = [];
  now = 0;

  run(durationMs: number, levels: Record<string, number> | ((t: number) => Record<string, number>)): this {
    const end = this.now + durationMs;
    while (this.now < end) {
      this.now += TICK;
      const sample = typeof levels === 'function' ? levels(this.now) : levels;
      const reported = this.detector.update(this.now, Object.entries(sample));
      if (reported) this.reports.push({ at: this.now, ids: reported.map((s) => s.id), speakers: reported });
      this.dominants.push({ at: this.now, id: this.detector.dominant });
    }
    return this;
  }

  get latest(): string[] | undefined {
    return this.reports.at(-1)?.ids;
  }

  reportsAfter(t: number): Report[] {
    return this.reports.filter((r) => r.at > t);
  }

  /** When the dominant speaker first became `id` after `t`. */
  tookFloorAt(id: string, after = 0): number | undefined {
    return this.dominants.find((d) => d.at > after && d.id === id)?.at;
  }
}

test('loudnessOf() and AudioLevelMeter: 0 dBov is 1, the threshold and silence are 0, DTX gaps are 0', () => {
  assert.equal(loudnessOf(0), 1);
  assert.equal(loudnessOf(ACTIVE_SPEAKER.activeThresholdDbov), 0);
  assert.equal(loudnessOf(127), 0);
  assert.ok(Math.abs(loudnessOf(25) - 0.5) < 1e-9);
  const meter = new AudioLevelMeter();
  assert.equal(meter.take(), 0, 'no packets: silent');
  for (let i = 0; i < 10; i++) meter.add(i % 2 === 0 ? 25 : 127);
  assert.ok(Math.abs(meter.take() - 0.25) < 1e-9, 'half the packets at -25 dBov, half silent');
  assert.equal(meter.take(), 0, 'take() resets');
});

test('silence reports nothing; a speaker appears within a sample or two and leaves the list when silent', () => {
  const s = new Script();
  s.run(5000, { a: 0, b: 0 });
  assert.equal(s.reports.length, 0, 'silence: no event');
  const start = s.now;
  s.run(3000, { a: 0.6, b: 0 });
  assert.deepEqual(s.reports[0]?.ids, ['a']);
  assert.ok(s.reports[0]!.at - start <= 2 * TICK, `reported after ${s.reports[0]!.at - start} ms`);
  assert.ok(s.reports[0]!.speakers[0]!.level > 0 && s.reports[0]!.speakers[0]!.level <= 1);
  const quiet = s.now;
  s.run(3000, { a: 0, b: 0 });
  assert.deepEqual(s.latest, [], 'silence again: an empty list');
  const emptiedAt = s.reportsAfter(quiet)[0]!.at;
  assert.ok(
    emptiedAt - quiet <= ACTIVE_SPEAKER.windowSamples * TICK + TICK,
    `emptied after ${emptiedAt - quiet} ms`,
  );
});

test('the louder of two speakers comes first; a slightly louder one does not take the floor', () => {
  const s = new Script();
  s.run(3000, { a: 0.6, b: 0.2 });
  assert.deepEqual(s.latest, ['a', 'b']);
  assert.equal(s.detector.dominant, 'a');
  // b now a little louder than a (under the 5 dB margin): a keeps the floor and stays first.
  s.run(3000, { a: 0.6, b: 0.65 });
  const before = s.reports.length;
  s.run(10_000, { a: 0.6, b: 0.65 });
  assert.equal(s.detector.dominant, 'a');
  assert.deepEqual(s.latest, ['a', 'b']);
  assert.deepEqual(
    s.reports.at(-1)!.speakers.map((x) => x.level),
    [0.6, 0.65],
    'the levels as they are, though b is not first',
  );
  assert.equal(s.reports.length, before, 'no event while nothing changed');
});

test('a clearly louder speaker takes the floor after a sustained second, not before', () => {
  const s = new Script();
  s.run(5000, { a: 0.6, b: 0.2 });
  assert.equal(s.detector.dominant, 'a');
  const swap = s.now;
  s.run(6000, { a: 0.2, b: 0.6 });
  const tookAt = s.tookFloorAt('b', swap);
  assert.ok(tookAt !== undefined, 'b took the floor');
  // b's smoothed level passes a's + margin once the window has half turned over, then must hold 1 s.
  assert.ok(tookAt - swap >= ACTIVE_SPEAKER.switchAfterMs, `switched after ${tookAt - swap} ms`);
  assert.ok(tookAt - swap <= 3000, `switched after ${tookAt - swap} ms`);
  assert.deepEqual(s.latest, ['b', 'a']);
  const switchReport = s.reportsAfter(swap).find((r) => r.ids[0] === 'b');
  assert.ok(switchReport && switchReport.at - tookAt < ACTIVE_SPEAKER.minEmitIntervalMs + TICK);
});

test('a cough does not steal the floor, neither over a speaker nor during a pause', () => {
  const s = new Script();
  s.run(4000, { a: 0.4, b: 0 });
  assert.equal(s.detector.dominant, 'a');
  // One loud sample (300 ms) from b, twice, a few seconds apart, while a talks on.
  const cough = (at: number) => (t: number) => ({ a: 0.4, b: t > at && t <= at + TICK ? 0.95 : 0 });
  const talking = s.now;
  s.run(4000, cough(s.now));
  s.run(4000, cough(s.now));
  assert.ok(
    s.dominants.filter((d) => d.at > talking).every((d) => d.id === 'a'),
    'a kept the floor',
  );
  assert.ok(
    s.reportsAfter(talking).every((r) => r.ids[0] === 'a'),
    'a stayed first in every report',
  );
  // a pauses; b coughs twice in 600 ms; a resumes: b never got the floor, a is first again at once.
  const pause = s.now;
  s.run(3000, { a: 0, b: 0 });
  s.run(900, (t) => ({ a: 0, b: t - s.now <= 2 * TICK ? 0.95 : 0 }));
  s.run(3000, { a: 0, b: 0 });
  assert.equal(s.detector.dominant, 'a');
  s.run(600, { a: 0.4, b: 0 });
  assert.ok(s.dominants.filter((d) => d.at > pause).every((d) => d.id === 'a'));
  assert.deepEqual(s.latest, ['a']);
});

test('a participant who leaves is dropped at once; the one left takes over', () => {
  const s = new Script();
  s.run(4000, { a: 0.6, b: 0.3 });
  assert.deepEqual(s.latest, ['a', 'b']);
  const left = s.now;
  s.run(3000, { b: 0.3 });
  const next = s.reportsAfter(left)[0]!;
  assert.deepEqual(next.ids, ['b']);
  assert.ok(next.at - left <= ACTIVE_SPEAKER.minEmitIntervalMs + TICK, `after ${next.at - left} ms`);
  assert.equal(s.detector.dominant, 'b');
  s.run(3000, {});
  assert.deepEqual(s.latest, [], 'everyone gone: empty');
  assert.equal(s.detector.dominant, null);
});

test('reports are rate limited: three speakers at random levels give at most 2 events a second', () => {
  const s = new Script();
  let seed = 7;
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  s.run(20_000, () => ({ a: random() * 0.6, b: random() * 0.6, c: random() < 0.5 ? 0 : random() }));
  const gaps = s.reports.slice(1).map((r, i) => r.at - s.reports[i]!.at);
  assert.ok(s.reports.length >= 10, `the order did change (${s.reports.length} events)`);
  assert.ok(Math.min(...gaps) >= 500, `gaps ${gaps.join(',')}`);
  assert.ok(s.reports.length <= 20 * 2, `${s.reports.length} events in 20 s`);
});

test('levels are refreshed as they move by a step, rate limited like the rest', () => {
  const s = new Script();
  s.run(3000, { a: 0.8 });
  const levels = s.reports.map((r) => r.speakers[0]!.level);
  assert.equal(levels.at(-1), 0.8, `ramp reported as ${levels.join(', ')}`);
  assert.ok(levels.length >= 2 && levels.length <= 4, `ramp reported as ${levels.join(', ')}`);
  const steady = s.reports.length;
  s.run(5000, { a: 0.75 });
  assert.equal(s.reports.length, steady, 'a change under the step is not reported');
});

test('garbage samples (NaN, negative, above 1) count as silence or full scale, never crash', () => {
  const s = new Script();
  s.run(3000, { a: Number.NaN, b: -5, c: 7 });
  assert.deepEqual(s.latest, ['c']);
  assert.equal(s.reports.at(-1)!.speakers[0]!.level, 1);
});
