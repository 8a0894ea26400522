/**
 * End-to-end encryption in real Chromium, in one E2EE session, steps in order: a client that
 * cannot encrypt is refused; three participants with the shared secret see and hear each other;
 * one with a wrong secret decodes nothing and is told why; key ratchets and a rekey do not
 * freeze the picture; a participant that left cannot open what is sent after it left.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ratchetMaterial } from '@conclave/client/e2ee/media-keys';
import { releaseNodeDataChannel } from '@conclave/server/media/testing/rtp-peer';
import type { Browser } from 'playwright-core';
import { NodeClient, SignalingError } from '../support/node-client.ts';
import {
  cryptorWith,
  frameTimes,
  type HeldKey,
  heldKeys,
  longestGap,
  RtpTap,
  recordKeys,
  startFrameTiming,
} from './e2ee-support.ts';
import {
  chromiumPresent,
  delay,
  type E2eServer,
  eventually,
  type HarnessEvent,
  launchChromium,
  openParticipant,
  type Participant,
  type Received,
  requireChromium,
  startE2eServer,
} from './support.ts';

const SECRET = 'a shared secret the server never sees';
/** Short, so that ratchets happen while the tests watch. */
const RATCHET_MS = 2000;
const NOT_BLACK = 20;

describe('end-to-end encryption in Chromium', { timeout: 300_000 }, () => {
  let browser: Browser | undefined;
  let env: E2eServer | undefined;
  let sessionId = '';
  const people: Record<string, { p: Participant; connectionId: string }> = {};
  let tap: RtpTap | undefined;

  const received = (name: string) => people[name]!.p.call<Received[]>('received');
  const events = (name: string) => people[name]!.p.call<HarnessEvent[]>('events');
  const idOf = (name: string) => people[name]!.connectionId;

  async function join(name: string, secret: string): Promise<void> {
    const token = env!.sdk.createToken(sessionId, { role: 'publisher', identity: `user-${name}` });
    const p = await openParticipant(browser!, env!.url);
    await recordKeys(p);
    const joined = await p.call<{ connectionId?: string; error?: string }>('join', token, {
      sessionId,
      e2ee: { sharedSecret: secret, ratchetIntervalMs: RATCHET_MS },
    });
    assert.equal(joined.error, undefined, `${name} joins`);
    people[name] = { p, connectionId: joined.connectionId! };
  }

  async function publish(name: string): Promise<void> {
    const published = await people[name]!.p.call<{ streamIds?: string[]; error?: string }>('publish', {
      audio: true,
      video: true,
      name,
    });
    assert.equal(published.error, undefined, `${name} publishes`);
  }

  /** Video of each `from` participant keeps decoding and is not black; audio samples keep coming. */
  async function assertReceivesFrom(name: string, from: string[]): Promise<void> {
    const wanted = from.map(idOf);
    const flowing = (list: Received[]) =>
      wanted.every(
        (c) =>
          list.some((r) => r.connectionId === c && r.kind === 'video' && r.framesDecoded > 5) &&
          list.some((r) => r.connectionId === c && r.kind === 'audio' && r.totalSamplesReceived > 0),
      );
    const first = await eventually(
      `${name} decodes ${from.join(', ')}`,
      () => received(name),
      flowing,
      30_000,
    );
    await delay(3000);
    const later = await received(name);
    for (const c of wanted) {
      const v0 = first.find((r) => r.connectionId === c && r.kind === 'video')!;
      const v1 = later.find((r) => r.streamId === v0.streamId)!;
      assert.ok(v1.framesDecoded > v0.framesDecoded + 10, `${name}: video from ${c} keeps decoding`);
      assert.ok((v1.brightness ?? 0) > NOT_BLACK, `${name}: video from ${c} is not black (${v1.brightness})`);
      const a0 = first.find((r) => r.connectionId === c && r.kind === 'audio')!;
      const a1 = later.find((r) => r.streamId === a0.streamId)!;
      assert.ok(a1.totalSamplesReceived > a0.totalSamplesReceived, `${name}: audio from ${c} keeps coming`);
    }
  }

  const failures = async (name: string) =>
    (await events(name)).filter((e) => e.type === 'decryptionFailed') as (HarnessEvent & {
      reason: string;
    })[];

  const videoOf = async (viewer: string, sender: string) =>
    (await received(viewer)).find((r) => r.connectionId === idOf(sender) && r.kind === 'video')!.streamId;

  const localKeys = async (name: string) =>
    (await heldKeys(people[name]!.p)).filter((k) => k.type === 'localKey');

  before(async () => {
    if (!chromiumPresent()) return;
    env = await startE2eServer();
    sessionId = (await env.createSession({ mediaMode: 'routed', e2ee: true })).id;
    browser = await launchChromium();
  });

  after(async () => {
    await tap?.close().catch(() => undefined);
    for (const { p } of Object.values(people)) await p.close().catch(() => undefined);
    await browser?.close();
    await env?.close();
    await releaseNodeDataChannel();
  });

  it('a client without the e2ee capability is refused with e2ee_unsupported', async (t) => {
    if (!requireChromium(t)) return;
    const token = env!.sdk.createToken(sessionId, { role: 'publisher', identity: 'plain-node' });
    const refused = await NodeClient.connect(env!.url, token, { sessionId }).then(
      () => null,
      (error: unknown) => error,
    );
    assert.ok(refused instanceof SignalingError);
    assert.equal(refused.code, 'e2ee_unsupported');
    const page = await openParticipant(browser!, env!.url);
    try {
      const plainToken = env!.sdk.createToken(sessionId, { role: 'publisher', identity: 'plain-sdk' });
      const joined = await page.call<{ error?: string }>('join', plainToken, { sessionId });
      assert.equal(joined.error, 'e2ee_unsupported', 'the SDK without e2ee options is refused too');
    } finally {
      await page.close();
    }
  });

  it('three participants with the shared secret decode each other and hear each other', async (t) => {
    if (!requireChromium(t)) return;
    for (const name of ['alice', 'bob', 'carol']) {
      await join(name, SECRET);
      await publish(name);
    }
    await assertReceivesFrom('alice', ['bob', 'carol']);
    await assertReceivesFrom('bob', ['alice', 'carol']);
    await assertReceivesFrom('carol', ['alice', 'bob']);
    for (const name of ['alice', 'bob', 'carol']) {
      const bad = (await failures(name)).filter(
        (e) => e.reason === 'auth_failed' || e.reason === 'key_exchange',
      );
      assert.deepEqual(bad, [], `${name}: nothing failed to authenticate`);
    }
  });

  it('a participant with a wrong secret decodes no frame and gets decryptionFailed events', async (t) => {
    if (!requireChromium(t)) return;
    await join('mallory', 'not the secret');
    await eventually(
      'mallory subscribes to all six streams',
      () => received('mallory'),
      (list) => list.length === 6 && list.every((r) => r.packetsReceived > 20),
      45_000,
    );
    await delay(3000);
    const list = await received('mallory');
    for (const r of list.filter((x) => x.kind === 'video')) {
      assert.equal(r.framesDecoded, 0, `mallory decodes no frame of ${r.connectionId}`);
      assert.ok((r.brightness ?? 0) < 1, 'and shows no picture');
    }
    const reasons = new Set((await failures('mallory')).map((e) => `${e.connectionId}:${e.reason}`));
    for (const name of ['alice', 'bob', 'carol']) {
      assert.ok(reasons.has(`${idOf(name)}:missing_key`), `mallory is told frames of ${name} do not decrypt`);
      assert.ok(
        reasons.has(`${idOf(name)}:key_exchange`),
        `mallory is told ${name}'s key messages do not open`,
      );
    }
    assert.ok(
      (await failures('alice')).some(
        (e) => e.connectionId === idOf('mallory') && e.reason === 'key_exchange',
      ),
      'alice is told mallory is not part of the key exchange',
    );
    await assertReceivesFrom('alice', ['bob', 'carol']);
    await people.mallory!.p.call('leave');
    await people.mallory!.p.close(); // one browser less on a machine of two cores
  });

  it('key ratchets mid-call do not freeze the picture for more than a second', async (t) => {
    if (!requireChromium(t)) return;
    const aliceVideo = await videoOf('bob', 'alice');
    const started = Date.now();
    await startFrameTiming(people.bob!.p);
    await delay(3 * RATCHET_MS + 1500);
    const ratchets = (await localKeys('alice')).filter(
      (k) => k.at > started + 200 && k.at < Date.now() - 1200,
    );
    assert.ok(ratchets.length >= 2, `alice ratcheted ${ratchets.length} times while bob watched`);
    const times = await frameTimes(people.bob!.p, aliceVideo);
    const around = ratchets.map((k) => longestGap(times, k.at, k.at + 1000));
    t.diagnostic(
      `bob saw ${times.length} frames of alice in ${((times.at(-1)! - times[0]!) / 1000).toFixed(1)} s; ` +
        `longest gap within 1 s after each ratchet: ${around.map((g) => g.toFixed(0)).join(', ')} ms; ` +
        `overall ${longestGap(times, times[0]!, times.at(-1)!).toFixed(0)} ms`,
    );
    for (const gap of around)
      assert.ok(gap < 1000, `no freeze of a second at a ratchet (${gap.toFixed(0)} ms)`);
    const authFailures = (await failures('bob')).filter((e) => e.reason === 'auth_failed');
    assert.deepEqual(authFailures, []);
  });

  it('a participant that left cannot open what is sent after it left, with any key it held', async (t) => {
    if (!requireChromium(t)) return;
    // Fewer browsers: carol is not needed any more (her leaving is one more rekey for the others).
    await people.carol!.p.call('leave');
    await people.carol!.p.close();
    const tapToken = env!.sdk.createToken(sessionId, { role: 'subscriber', identity: 'tap' });
    tap = await RtpTap.join(env!.url, tapToken, sessionId, true);
    const aliceAudio = tap.client.joined!.streams.find(
      (s) => s.connectionId === idOf('alice') && s.kind === 'audio',
    )!;
    const mid = await tap.subscribe(aliceAudio.streamId);
    await join('dave', SECRET);
    await assertReceivesFrom('dave', ['alice']);
    const daveKeys = (await heldKeys(people.dave!.p)).filter(
      (k) => k.type === 'remoteKey' && k.participantId === idOf('alice'),
    );
    assert.ok(daveKeys.length > 0, 'dave held keys of alice');
    const beforeLeave = tap.audioFrames(mid).slice(-20);
    const heldByDave = await cryptorWith(daveKeys, idOf('alice'));
    let opened = 0;
    for (const { frame } of beforeLeave) if ((await heldByDave.decrypt(idOf('alice'), frame)).ok) opened++;
    assert.ok(opened > 10, `dave's keys open alice's frames while he is there (${opened}/20)`);

    const aliceVideo = await videoOf('bob', 'alice');
    await startFrameTiming(people.bob!.p);
    const keysBefore = (await localKeys('alice')).length;
    await people.dave!.p.call('leave');
    let fresh = -1;
    await eventually(
      'alice takes a fresh key',
      async () => (fresh = await firstFreshKey(await localKeys('alice'), keysBefore)),
      (index) => index >= 0,
    );
    const rekeyAt = (await localKeys('alice'))[fresh]!;
    t.diagnostic(`alice rekeyed to key id ${rekeyAt.keyId}`);
    await delay(3000);
    const sinceLeave = tap.audioFrames(mid).slice(-100);
    const heldByBob = await cryptorWith(
      (await heldKeys(people.bob!.p)).filter(
        (k) => k.type === 'remoteKey' && k.participantId === idOf('alice'),
      ),
      idOf('alice'),
    );
    let daveOpens = 0;
    let bobOpens = 0;
    for (const { frame } of sinceLeave) {
      // dave's cryptor ratchets up to RATCHET_WINDOW steps on from the newest key he held.
      if ((await heldByDave.decrypt(idOf('alice'), frame)).ok) daveOpens++;
      if ((await heldByBob.decrypt(idOf('alice'), frame)).ok) bobOpens++;
    }
    t.diagnostic(
      `of ${sinceLeave.length} later audio frames dave's keys open ${daveOpens}, bob's ${bobOpens}`,
    );
    assert.equal(daveOpens, 0, 'dave opens nothing sent after he left');
    assert.ok(bobOpens > sinceLeave.length * 0.9, 'bob, still there, opens them');
    const times = await frameTimes(people.bob!.p, aliceVideo);
    const gap = longestGap(times, rekeyAt.at, rekeyAt.at + 1000);
    t.diagnostic(`bob's longest gap in alice's video within 1 s after the rekey: ${gap.toFixed(0)} ms`);
    assert.ok(gap < 1000, 'the rekey does not freeze the picture for more than a second');
  });
});

/** Index of the first key from `from` on that is fresh (not the ratchet of the key before it), or -1. */
async function firstFreshKey(keys: HeldKey[], from: number): Promise<number> {
  for (let i = Math.max(1, from); i < keys.length; i++) {
    const next = await ratchetMaterial(Uint8Array.from(keys[i - 1]!.material));
    if (Buffer.compare(Buffer.from(next), Buffer.from(keys[i]!.material)) !== 0) return i;
  }
  return -1;
}
