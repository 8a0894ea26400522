/**
 * Active speaker in real Chromium: two participants publish a WebAudio tone as their microphone
 * through the browser SDK; Chromium measures its level and sends it in the audio level header
 * extension; the SFU ranks them and every participant's SDK emits `activeSpeakersChanged`.
 * Gains: 0.5 is about -9 dBov (someone close to the microphone), 0.01 about -43 dBov (quiet).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  eventually,
  openParticipant,
  type Participant,
  requireChromium,
  shareBrowserAndServer,
} from './support.ts';

const LOUD = 0.5;
const QUIET = 0.01;

interface SpeakersEvent {
  type: 'activeSpeakersChanged';
  at: number;
  speakers: { connectionId: string; streamId: string; level: number }[];
}

const shared = shareBrowserAndServer();

async function speakerEvents(p: Participant): Promise<SpeakersEvent[]> {
  const events = await p.call<{ type: string }[]>('events');
  return events.filter((e): e is SpeakersEvent => e.type === 'activeSpeakersChanged');
}

/** Waits for a speakers event after `since` whose stream ids satisfy `match`; returns it and how long it took. */
async function follows(
  p: Participant,
  since: number,
  what: string,
  match: (streamIds: string[]) => boolean,
): Promise<{ event: SpeakersEvent; ms: number }> {
  const start = Date.now();
  const found = await eventually(
    what,
    async () => (await speakerEvents(p)).slice(since).find((e) => match(e.speakers.map((s) => s.streamId))),
    (e) => e !== undefined,
    15_000,
  );
  return { event: found!, ms: Date.now() - start };
}

test('activeSpeakersChanged in Chromium: the louder tone first, the swap followed, silence empties the list', {
  timeout: 180_000,
}, async (t) => {
  const { browser, env } = shared;
  if (!requireChromium(t) || !browser || !env) return;
  const session = await env.createSession({});
  const people: Participant[] = [];
  t.after(async () => {
    for (const p of people) await p.close();
  });
  const joinAs = async (name: string) => {
    const token = env.sdk.createToken(session.id, { role: 'publisher', identity: `user-${name}` });
    const p = await openParticipant(browser, env.url);
    people.push(p);
    const joined = await p.call<{ connectionId?: string; error?: string }>('join', token, {
      sessionId: session.id,
    });
    assert.equal(joined.error, undefined, `${name} joins`);
    return { p, connectionId: joined.connectionId! };
  };
  const alice = await joinAs('alice');
  const bob = await joinAs('bob');
  const published = async (who: { p: Participant }, gain: number, name: string) => {
    const result = await who.p.call<{ streamIds?: string[]; error?: string }>('publishTone', gain, name);
    assert.equal(result.error, undefined, `${name} publishes`);
    return result.streamIds![0]!;
  };
  const aliceMic = await published(alice, LOUD, 'alice mic');
  const bobMic = await published(bob, QUIET, 'bob mic');

  // Both participants hear about both; the loud one is first.
  const first = await follows(
    bob.p,
    0,
    'alice first, bob second',
    (ids) => ids.join() === `${aliceMic},${bobMic}`,
  );
  assert.equal(first.event.speakers[0]!.connectionId, alice.connectionId);
  assert.ok(first.event.speakers[0]!.level > first.event.speakers[1]!.level, JSON.stringify(first.event));
  await follows(alice.p, 0, 'alice sees herself first', (ids) => ids[0] === aliceMic);

  await new Promise((r) => setTimeout(r, 2500)); // alice holds the floor
  let mark = (await speakerEvents(bob.p)).length;
  await alice.p.call('setToneGain', QUIET);
  await bob.p.call('setToneGain', LOUD);
  const swapped = await follows(bob.p, mark, 'bob first after the swap', (ids) => ids[0] === bobMic);
  assert.equal(swapped.event.speakers[1]?.streamId, aliceMic, 'alice, quieter, still listed');

  mark = (await speakerEvents(alice.p)).length;
  await alice.p.call('setToneGain', 0);
  await bob.p.call('setToneGain', 0);
  const silent = await follows(alice.p, mark, 'an empty list on silence', (ids) => ids.length === 0);

  const all = await speakerEvents(bob.p);
  const spanS = (all.at(-1)!.at - all[0]!.at) / 1000;
  assert.ok(all.length <= spanS * 2 + 2, `${all.length} events over ${spanS.toFixed(1)} s`);
  t.diagnostic(
    `first after ${first.ms} ms (levels ${first.event.speakers.map((s) => s.level).join('/')}), ` +
      `swap followed in ${swapped.ms} ms, silence in ${silent.ms} ms; ${all.length} events in ${spanS.toFixed(1)} s`,
  );
});
