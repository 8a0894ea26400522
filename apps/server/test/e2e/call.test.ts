/**
 * A routed call in real Chromium: the real server (signaling + SFU), the real server SDK for
 * tokens, the real browser SDK bundle from /sdk/conclave.js, fake camera and microphone.
 * One browser, one context per participant; the steps run in order on one session.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { isLoopbackAddress } from '../../src/turn/coturn-config.ts';
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

interface HarnessStats {
  subscriber: Record<string, unknown>[];
}

/** A picture whose mean brightness is above this is not black (the fake camera is bright). */
const NOT_BLACK = 20;

describe('routed call in Chromium', { timeout: 240_000 }, () => {
  let browser: Browser | undefined;
  let env: E2eServer | undefined;
  let sessionId = '';
  const people: Record<string, { p: Participant; connectionId: string; streamIds: string[] }> = {};

  const received = (name: string) => people[name]!.p.call<Received[]>('received');
  /**
   * A participant's connection id as of now: after a failure the SDK may have rejoined as a
   * new connection (reconnected with resumed: false), and the others see that new id.
   */
  const idOf = async (name: string) => {
    const id = await people[name]!.p.call<string>('connectionId');
    people[name]!.connectionId = id;
    return id;
  };
  const events = (name: string) => people[name]!.p.call<HarnessEvent[]>('events');

  async function join(name: string, role: 'publisher' | 'subscriber'): Promise<void> {
    const token = env!.sdk.createToken(sessionId, {
      role,
      identity: `user-${name}`,
      data: JSON.stringify({ name }),
    });
    const p = await openParticipant(browser!, env!.url);
    const joined = await p.call<{ connectionId?: string; error?: string }>('join', token, { sessionId });
    assert.equal(joined.error, undefined, `${name} joins`);
    people[name] = { p, connectionId: joined.connectionId!, streamIds: [] };
  }

  /** Video of each `from` participant is decoding, keeps decoding, and is not black; audio arrives. */
  async function assertReceivesFrom(name: string, from: string[]): Promise<void> {
    const wanted = await Promise.all(from.map(idOf));
    const flowing = (list: Received[]) =>
      wanted.every(
        (c) =>
          list.some(
            (r) => r.connectionId === c && r.kind === 'video' && r.source === 'camera' && r.framesDecoded > 5,
          ) && list.some((r) => r.connectionId === c && r.kind === 'audio' && r.packetsReceived > 5),
      );
    const first = await eventually(`${name} receives ${from.join(', ')}`, () => received(name), flowing);
    await delay(1500);
    const later = await received(name);
    for (const c of wanted) {
      const v0 = first.find((r) => r.connectionId === c && r.kind === 'video' && r.source === 'camera')!;
      const v1 = later.find((r) => r.streamId === v0.streamId)!;
      assert.ok(v1.framesDecoded > v0.framesDecoded + 10, `${name}: video from ${c} keeps decoding`);
      assert.ok((v1.brightness ?? 0) > NOT_BLACK, `${name}: video from ${c} is not black (${v1.brightness})`);
      const a0 = first.find((r) => r.connectionId === c && r.kind === 'audio')!;
      const a1 = later.find((r) => r.streamId === a0.streamId)!;
      assert.ok(
        a1.packetsReceived > a0.packetsReceived + 20,
        `${name}: audio packets from ${c} keep arriving`,
      );
      assert.ok(
        a1.totalSamplesReceived > a0.totalSamplesReceived,
        `${name}: audio samples from ${c} keep arriving`,
      );
    }
  }

  before(async () => {
    if (!chromiumPresent()) return;
    env = await startE2eServer();
    sessionId = (await env.createSession({ mediaMode: 'routed' })).id;
    browser = await launchChromium();
  });

  after(async () => {
    for (const { p } of Object.values(people)) await p.close().catch(() => undefined);
    await browser?.close();
    await env?.close();
  });

  it('three participants each decode the other two and hear them', async (t) => {
    if (!requireChromium(t)) return;
    for (const name of ['alice', 'bob', 'carol']) {
      await join(name, 'publisher');
      const published = await people[name]!.p.call<{ streamIds?: string[]; error?: string }>('publish', {
        audio: true,
        video: true,
        name,
      });
      assert.equal(published.error, undefined);
      assert.equal(published.streamIds?.length, 2, `${name} publishes microphone and camera`);
      people[name]!.streamIds = published.streamIds!;
    }
    await assertReceivesFrom('alice', ['bob', 'carol']);
    await assertReceivesFrom('bob', ['alice', 'carol']);
    await assertReceivesFrom('carol', ['alice', 'bob']);
    // npm test runs this file where loopback is the only interface (scripts/loopback-netns.mjs):
    // every candidate the browser gathered or was offered must then be a loopback address. On a
    // host network Chromium also gathers the Ethernet address, and the SFU answers checks from it.
    if (process.env.CONCLAVE_LOOPBACK_NETNS) {
      for (const name of ['alice', 'bob', 'carol']) {
        const addresses = await people[name]!.p.page.evaluate(async () => {
          const harness = (window as unknown as { harness: { stats(): Promise<HarnessStats> } }).harness;
          const { subscriber } = await harness.stats();
          return subscriber
            .filter((s) => s.type === 'local-candidate' || s.type === 'remote-candidate')
            .map((s) => String(s.address));
        });
        assert.ok(addresses.length > 0, `${name} has ICE candidates`);
        const other = addresses.filter((a) => !isLoopbackAddress(a));
        assert.deepEqual(other, [], `${name}'s candidates are loopback only`);
      }
    }
  });

  it('a subscriber-only participant sees everyone and is refused when it publishes', async (t) => {
    if (!requireChromium(t)) return;
    await join('dave', 'subscriber');
    await assertReceivesFrom('dave', ['alice', 'bob', 'carol']);
    const refused = await people.dave!.p.call<{ error?: string }>('publish', { audio: true, video: true });
    assert.equal(refused.error, 'publish_not_allowed');
  });

  it('signals reach everyone, or only the named recipient', async (t) => {
    if (!requireChromium(t)) return;
    await Promise.all(['alice', 'bob', 'carol', 'dave'].map(idOf));
    const toAll = await people.alice!.p.call<{ error?: string }>('signal', 'chat', 'hello all');
    assert.equal(toAll.error, undefined);
    for (const name of ['bob', 'carol', 'dave']) {
      await eventually(
        `${name} gets the broadcast`,
        () => events(name),
        (list) =>
          list.some(
            (e) => e.type === 'signal' && e.data === 'hello all' && e.from === people.alice!.connectionId,
          ),
      );
    }
    await people.bob!.p.call('signal', 'chat', 'just carol', [people.carol!.connectionId]);
    await eventually(
      'carol gets the direct signal',
      () => events('carol'),
      (list) => list.some((e) => e.type === 'signal' && e.data === 'just carol'),
    );
    await delay(500);
    assert.ok(!(await events('alice')).some((e) => e.data === 'just carol'), 'alice does not get it');
    assert.ok(
      !(await events('alice')).some((e) => e.data === 'hello all'),
      'the sender does not get its own',
    );
  });

  it('a screen share arrives as a second video stream', async (t) => {
    if (!requireChromium(t)) return;
    const shared = await people.bob!.p.call<{ streamIds?: string[]; via?: string; error?: string }>(
      'publishScreen',
      'bob screen',
    );
    assert.equal(shared.error, undefined);
    t.diagnostic(`screen captured via ${shared.via}`);
    const screenId = shared.streamIds![0]!;
    await idOf('bob');
    for (const name of ['alice', 'carol']) {
      const list = await eventually(
        `${name} decodes bob's screen`,
        () => received(name),
        (l) => l.some((r) => r.streamId === screenId && r.source === 'screen' && r.framesDecoded > 5),
      );
      const fromBob = list.filter((r) => r.connectionId === people.bob!.connectionId && r.kind === 'video');
      assert.deepEqual(fromBob.map((r) => r.source).sort(), ['camera', 'screen']);
    }
  });

  it('after the signaling WebSocket drops, the client reconnects and video resumes', async (t) => {
    if (!requireChromium(t)) return;
    const dropped = await people.carol!.p.call<number>('dropSocket');
    assert.equal(dropped, 1);
    await eventually(
      'carol reconnects',
      () => events('carol'),
      (list) => list.some((e) => e.type === 'reconnected'),
    );
    const carolEvents = await events('carol');
    assert.ok(carolEvents.some((e) => e.type === 'reconnecting'));
    assert.ok(!carolEvents.some((e) => e.type === 'disconnected'));
    // Video keeps flowing both ways after the reconnection.
    await assertReceivesFrom('carol', ['alice', 'bob']);
    await assertReceivesFrom('alice', ['carol']);
  });

  it('leaving produces streamDestroyed and connectionDestroyed for the others', async (t) => {
    if (!requireChromium(t)) return;
    const bob = people.bob!;
    await idOf('bob');
    await bob.p.call('leave');
    for (const name of ['alice', 'carol', 'dave']) {
      const list = await eventually(
        `${name} sees bob leave`,
        () => events(name),
        (l) => l.some((e) => e.type === 'connectionDestroyed' && e.connectionId === bob.connectionId),
      );
      const destroyed = list.filter(
        (e) => e.type === 'streamDestroyed' && e.connectionId === bob.connectionId,
      );
      assert.ok(destroyed.length >= 3, `${name}: bob's microphone, camera and screen streams end`);
      const remaining = await received(name);
      assert.ok(
        !remaining.some((r) => r.connectionId === bob.connectionId),
        `${name} no longer receives bob`,
      );
    }
  });
});
