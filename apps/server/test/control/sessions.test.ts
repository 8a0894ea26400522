import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DIALECTS, manualClock, OPERATOR, openTestControlPlane } from './support.ts';

for (const dialect of DIALECTS) {
  test(`${dialect}: sessions.create() applies defaults and get() returns it to its own application only`, async (t) => {
    const h = await openTestControlPlane(t, dialect);
    if (!h) return;
    const a = await h.control.apps.create('app-a', OPERATOR);
    const b = await h.control.apps.create('app-b', OPERATOR);
    const session = await h.control.sessions.create(a.appId, { name: 'standup', metadata: 'm' }, OPERATOR);
    assert.match(session.id, /^ses_[A-Za-z0-9_-]{24}$/, 'ses_ + 144 random bits, base64url');
    assert.deepEqual(
      { ...session, id: undefined, createdAt: undefined },
      {
        id: undefined,
        createdAt: undefined,
        name: 'standup',
        mediaMode: 'routed',
        e2ee: false,
        maxParticipants: null,
        archiveMode: 'manual',
        region: null,
        metadata: 'm',
      },
    );
    assert.deepEqual(await h.control.sessions.get(a.appId, session.id), session);
    assert.equal(
      await h.control.sessions.get(b.appId, session.id),
      null,
      "app B cannot read app A's session",
    );
    assert.equal(await h.control.sessions.get(a.appId, 'ses_missing'), null);

    const full = await h.control.sessions.create(
      a.appId,
      { mediaMode: 'relayed', e2ee: true, maxParticipants: 2, archiveMode: 'always', region: 'eu-west' },
      OPERATOR,
    );
    assert.deepEqual(await h.control.sessions.get(a.appId, full.id), full);
    assert.equal(full.name, null);
    assert.equal(full.e2ee, true);
  });

  test(`${dialect}: session names are scoped per application`, async (t) => {
    const h = await openTestControlPlane(t, dialect);
    if (!h) return;
    const a = await h.control.apps.create('app-a', OPERATOR);
    const b = await h.control.apps.create('app-b', OPERATOR);
    await h.control.sessions.create(a.appId, { name: 'lobby' }, OPERATOR);
    const inB = await h.control.sessions.create(b.appId, { name: 'lobby' }, OPERATOR);
    assert.equal(inB.name, 'lobby', 'the same name in another application is fine');
    await assert.rejects(h.control.sessions.create(a.appId, { name: 'lobby' }, OPERATOR), {
      code: 'conflict',
    });
    // Unnamed sessions never collide.
    await h.control.sessions.create(a.appId, {}, OPERATOR);
    await h.control.sessions.create(a.appId, {}, OPERATOR);
    const byName = await h.control.sessions.list(b.appId, { name: 'lobby' });
    assert.deepEqual(
      byName.sessions.map((s) => s.id),
      [inB.id],
    );
  });

  test(`${dialect}: sessions.list() pages with a cursor through one application's sessions`, async (t) => {
    const clock = manualClock();
    const h = await openTestControlPlane(t, dialect, { now: clock.now });
    if (!h) return;
    const a = await h.control.apps.create('app-a', OPERATOR);
    const b = await h.control.apps.create('app-b', OPERATOR);
    const created: string[] = [];
    for (let i = 0; i < 7; i++) {
      // Two sessions share each instant: the cursor must still neither skip nor repeat.
      if (i % 2 === 0) clock.advance(1000);
      created.push((await h.control.sessions.create(a.appId, { name: `room-${i}` }, OPERATOR)).id);
    }
    await h.control.sessions.create(b.appId, { name: 'other' }, OPERATOR);

    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await h.control.sessions.list(a.appId, { limit: 3, ...(cursor ? { cursor } : {}) });
      seen.push(...page.sessions.map((s) => s.id));
      cursor = page.nextCursor ?? undefined;
      pages += 1;
    } while (cursor);
    assert.equal(pages, 3);
    assert.deepEqual(new Set(seen), new Set(created));
    assert.equal(seen.length, 7);
    await assert.rejects(h.control.sessions.list(a.appId, { cursor: 'garbage' }), {
      code: 'invalid_request',
    });
  });
}
