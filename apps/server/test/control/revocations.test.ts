import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DIALECTS, manualClock, OPERATOR, openTestControlPlane } from './support.ts';

const seconds = (ms: number) => Math.floor(ms / 1000);

for (const dialect of DIALECTS) {
  test(`${dialect}: revoking a jti revokes that token only, in that session only`, async (t) => {
    const clock = manualClock();
    const h = await openTestControlPlane(t, dialect, { now: clock.now });
    if (!h) return;
    const app = await h.control.apps.create('shop', OPERATOR);
    const s1 = await h.control.sessions.create(app.appId, {}, OPERATOR);
    const s2 = await h.control.sessions.create(app.appId, {}, OPERATOR);
    const iat = seconds(clock.now());
    await h.control.revocations.revoke(app.appId, s1.id, { jti: 'tok-1' }, OPERATOR);

    assert.equal(await h.control.revocations.isRevoked(s1.id, { jti: 'tok-1', sub: 'alice', iat }), true);
    assert.equal(await h.control.revocations.isRevoked(s1.id, { jti: 'tok-2', sub: 'alice', iat }), false);
    assert.equal(await h.control.revocations.isRevoked(s2.id, { jti: 'tok-1', sub: 'alice', iat }), false);
  });

  test(`${dialect}: revoking an identity revokes its tokens issued until then, not later ones`, async (t) => {
    const clock = manualClock();
    const h = await openTestControlPlane(t, dialect, { now: clock.now });
    if (!h) return;
    const app = await h.control.apps.create('shop', OPERATOR);
    const session = await h.control.sessions.create(app.appId, {}, OPERATOR);
    const before = seconds(clock.now());
    clock.advance(5000);
    await h.control.revocations.revoke(app.appId, session.id, { identity: 'bob' }, OPERATOR);
    const revokedAt = seconds(clock.now());

    const revoked = (sub: string, iat: number) =>
      h.control.revocations.isRevoked(session.id, { jti: `j-${iat}`, sub, iat });
    assert.equal(await revoked('bob', before), true, 'issued before the revocation');
    assert.equal(await revoked('bob', revokedAt), true, 'issued in the same second: refused');
    assert.equal(await revoked('bob', revokedAt + 1), false, 'a fresh token issued afterwards works');
    assert.equal(await revoked('alice', before), false, 'other identities are untouched');
  });

  test(`${dialect}: revoke() refuses another application's session and an empty target`, async (t) => {
    const h = await openTestControlPlane(t, dialect);
    if (!h) return;
    const a = await h.control.apps.create('app-a', OPERATOR);
    const b = await h.control.apps.create('app-b', OPERATOR);
    const session = await h.control.sessions.create(a.appId, {}, OPERATOR);
    await assert.rejects(h.control.revocations.revoke(b.appId, session.id, { jti: 'x' }, OPERATOR), {
      code: 'session_not_found',
    });
    await assert.rejects(h.control.revocations.revoke(a.appId, session.id, {}, OPERATOR), {
      code: 'invalid_request',
    });
    const iat = seconds(Date.now());
    assert.equal(await h.control.revocations.isRevoked(session.id, { jti: 'x', sub: 'x', iat }), false);
  });

  test(`${dialect}: revocations are kept for the max token lifetime plus skew, then purged`, async (t) => {
    const clock = manualClock();
    const h = await openTestControlPlane(t, dialect, { now: clock.now });
    if (!h) return;
    const app = await h.control.apps.create('shop', OPERATOR);
    const session = await h.control.sessions.create(app.appId, {}, OPERATOR);
    await h.control.revocations.revoke(app.appId, session.id, { jti: 'old' }, OPERATOR);
    // Still inside max lifetime (3600 s) + skew (30 s): a token it matches may be valid, keep it.
    clock.advance(3630_000);
    await h.control.revocations.revoke(app.appId, session.id, { jti: 'new' }, OPERATOR);
    const iat = seconds(clock.now());
    assert.equal(await h.control.revocations.isRevoked(session.id, { jti: 'old', sub: 'a', iat }), true);
    clock.advance(1);
    await h.control.revocations.revoke(app.appId, session.id, { jti: 'newer' }, OPERATOR);
    const rows = await h.sql('SELECT jti FROM token_revocations ORDER BY revoked_at');
    assert.deepEqual(
      rows.map((r) => r.jti),
      ['new', 'newer'],
      'the expired revocation was purged',
    );
  });
}
