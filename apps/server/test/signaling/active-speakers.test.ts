/**
 * Active speakers end to end without a browser: Node publishers send Opus-shaped RTP with the
 * audio level extension through the real gateway and a real media worker process; another
 * participant receives `activeSpeakers`. Levels: -20 dBov is a voice near the microphone, -40 a
 * quiet one, 127 silence.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { ActiveSpeakersEvent, type ServerMessageOf } from '@conclave/protocol/signaling';
import { Ajv } from 'ajv';
import type { NodeClient } from '../support/node-client.ts';
import { startHarness } from './harness.ts';

const LOUD = 20;
const QUIET = 40;
const SILENT = 127;
/** "Within a couple of seconds": the detector needs ~2 s by design; the rest is margin for a loaded machine. */
const FOLLOW_MS = 8_000;

type Speakers = ServerMessageOf<'activeSpeakers'>;
const validate = new Ajv({ strict: false }).compile(ActiveSpeakersEvent);

/** The next activeSpeakers event after `since` (an index into the client's events) that matches. */
async function nextSpeakers(
  client: NodeClient,
  since: number,
  match: (streamIds: string[]) => boolean,
  what: string,
): Promise<{ event: Speakers; elapsedMs: number }> {
  const start = performance.now();
  const event = await client.until(
    () =>
      client.events
        .slice(since)
        .find((e): e is Speakers => e.type === 'activeSpeakers' && match(e.speakers.map((s) => s.streamId))),
    FOLLOW_MS,
    what,
  );
  return { event, elapsedMs: Math.round(performance.now() - start) };
}

test('activeSpeakers names the loud speaker first, follows a swap and a leave, and empties on silence', {
  timeout: 120_000,
}, async (t) => {
  const h = await startHarness(t);
  const session = await h.createSession();
  const carol = await h.join(session, { role: 'subscriber' });
  const alice = await h.join(session);
  const bob = await h.join(session);
  const a = await alice.publish({ kind: 'audio', audioLevel: true });
  const b = await bob.publish({ kind: 'audio', audioLevel: true });
  const started = performance.now();
  a.peer.setAudioLevel(LOUD, true);
  b.peer.setAudioLevel(QUIET, true);

  const first = await nextSpeakers(
    carol,
    0,
    (ids) => ids.join() === `${a.streamId},${b.streamId}`,
    'alice first',
  );
  assert.deepEqual(
    first.event.speakers.map((s) => s.connectionId),
    [alice.connectionId, bob.connectionId],
  );
  // The dominant speaker goes first even through a dip in its smoothed level (a publisher stalled
  // on a loaded machine counts as silent for that sample), so compare the loudest level each
  // reached: the -20 dBov voice must rank above the -40 dBov one.
  const peak = (streamId: string): number =>
    Math.max(
      ...carol
        .eventsOf('activeSpeakers')
        .flatMap((e) => e.speakers.filter((s) => s.streamId === streamId).map((s) => s.level)),
    );
  assert.ok(peak(a.streamId) > peak(b.streamId), `levels ${peak(a.streamId)} and ${peak(b.streamId)}`);

  // Let alice hold the floor (a sustained second), then swap: bob has to take it over.
  await delay(2500);
  let mark = carol.events.length;
  a.peer.setAudioLevel(QUIET, true);
  b.peer.setAudioLevel(LOUD, true);
  const swapped = await nextSpeakers(carol, mark, (ids) => ids[0] === b.streamId, 'bob first after the swap');
  assert.deepEqual(swapped.event.speakers[1]?.streamId, a.streamId, 'alice still speaks, second');
  // Hysteresis: the floor changes hands only after bob was clearly louder for a second.
  assert.ok(swapped.elapsedMs >= 700, `the floor changed hands after only ${swapped.elapsedMs} ms`);

  // A participant who joins now learns who speaks at once, without waiting for a change.
  const dave = await h.join(session, { role: 'subscriber' });
  const greeting = await nextSpeakers(dave, 0, () => true, 'the current speakers on join');
  assert.deepEqual(
    greeting.event.speakers.map((s) => s.streamId),
    [b.streamId, a.streamId],
  );

  mark = carol.events.length;
  await bob.leave();
  const left = await nextSpeakers(
    carol,
    mark,
    (ids) => ids.join() === a.streamId,
    'only alice once bob left',
  );

  mark = carol.events.length;
  a.peer.setAudioLevel(SILENT, false);
  const silent = await nextSpeakers(carol, mark, (ids) => ids.length === 0, 'an empty list on silence');

  const all = carol.eventsOf('activeSpeakers');
  for (const event of all)
    assert.ok(validate(event), `matches the protocol schema: ${JSON.stringify(event)}`);
  const seconds = (performance.now() - started) / 1000;
  assert.ok(all.length <= seconds * 2 + 2, `${all.length} events in ${seconds.toFixed(1)} s: rate limited`);
  t.diagnostic(
    `first after ${first.elapsedMs} ms, swap followed in ${swapped.elapsedMs} ms, ` +
      `leave in ${left.elapsedMs} ms, silence in ${silent.elapsedMs} ms; ` +
      `${all.length} events in ${seconds.toFixed(1)} s`,
  );
});

test('a microphone without the audio level extension never appears; the others still do', {
  timeout: 60_000,
}, async (t) => {
  const h = await startHarness(t);
  const session = await h.createSession();
  const carol = await h.join(session, { role: 'subscriber' });
  const alice = await h.join(session);
  const bob = await h.join(session);
  await alice.publish({ kind: 'audio' });
  const b = await bob.publish({ kind: 'audio', audioLevel: true });
  b.peer.setAudioLevel(QUIET, true);
  const seen = await nextSpeakers(carol, 0, (ids) => ids.length > 0, 'bob speaking');
  assert.deepEqual(
    seen.event.speakers.map((s) => s.streamId),
    [b.streamId],
  );
});
