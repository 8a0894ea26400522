import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DIALECTS, manualClock, OPERATOR, openTestControlPlane } from './support.ts';

const DAY = 86_400_000;

for (const dialect of DIALECTS) {
  test(`${dialect}: every privileged action appends an audit record with actor, source and target`, async (t) => {
    const h = await openTestControlPlane(t, dialect);
    if (!h) return;
    const app = await h.control.apps.create('shop', OPERATOR);
    const ed = await import('node:crypto').then((c) => c.generateKeyPairSync('ed25519'));
    await h.control.apps.rotateSecret('shop', OPERATOR);
    await h.control.apps.setPublicKey(
      'shop',
      ed.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      OPERATOR,
    );
    const partner = { id: `app:${app.apiKey}`, source: '127.0.0.1' };
    const session = await h.control.sessions.create(app.appId, { name: 'room' }, partner);
    await h.control.revocations.revoke(app.appId, session.id, { identity: 'bob' }, partner);
    await h.control.audit.append(partner, 'rest.auth_failed', 'POST /v1/sessions', {
      reason: 'bad signature',
    });
    await h.control.apps.delete('shop', OPERATOR);

    const entries = (await h.control.audit.list()).reverse();
    assert.deepEqual(
      entries.map((e) => [e.seq, e.action, e.actor, e.source, e.target]),
      [
        [1, 'app.created', 'cli:tester', 'local', app.appId],
        [2, 'app.secret_rotated', 'cli:tester', 'local', app.appId],
        [3, 'app.public_key_registered', 'cli:tester', 'local', app.appId],
        [4, 'session.created', partner.id, '127.0.0.1', session.id],
        [5, 'tokens.revoked', partner.id, '127.0.0.1', session.id],
        [6, 'rest.auth_failed', partner.id, '127.0.0.1', 'POST /v1/sessions'],
        [7, 'app.deleted', 'cli:tester', 'local', app.appId],
      ],
    );
    assert.deepEqual(entries[4]?.details, { appId: app.appId, identity: 'bob' });
    assert.equal(entries[1]?.prevHash, entries[0]?.hash, 'each record links to the previous one');
    assert.deepEqual(await h.control.audit.verify(), { ok: true, checked: 7 });
    assert.equal((await h.control.audit.list({ limit: 2 })).length, 2);
  });

  test(`${dialect}: audit.verify() names a record whose field was altered in the database`, async (t) => {
    const h = await openTestControlPlane(t, dialect);
    if (!h) return;
    for (let i = 0; i < 5; i++) await h.control.audit.append(OPERATOR, 'test.action', `target-${i}`, { i });
    await h.sql("UPDATE audit_records SET actor = 'cli:someone-else' WHERE seq = 3");
    const result = await h.control.audit.verify();
    assert.equal(result.ok, false);
    assert.equal(!result.ok && result.brokenSeq, 3);
    assert.equal(result.checked, 2, 'records before it still verified');
  });

  test(`${dialect}: audit.verify() catches altered details and a re-hashed record`, async (t) => {
    const h = await openTestControlPlane(t, dialect);
    if (!h) return;
    for (let i = 0; i < 4; i++) await h.control.audit.append(OPERATOR, 'test.action', `target-${i}`, { i });
    await h.sql(`UPDATE audit_records SET details = '{"i":99}' WHERE seq = 2`);
    assert.equal((await h.control.audit.verify()).ok, false);
    const broken = await h.control.audit.verify();
    assert.equal(!broken.ok && broken.brokenSeq, 2);

    // Recomputing the altered record's own hash is not enough: the next record links to the old one.
    const { hashRecord } = await import('../../src/control/audit.ts');
    const [row] = await h.sql('SELECT * FROM audit_records WHERE seq = 2');
    assert.ok(row);
    const forged = hashRecord(String(row.prev_hash), {
      seq: 2,
      at: Number(row.at),
      actor: String(row.actor),
      action: String(row.action),
      target: String(row.target),
      source: String(row.source),
      details: { i: 99 },
    });
    await h.sql('UPDATE audit_records SET hash = ? WHERE seq = 2', [forged]);
    const still = await h.control.audit.verify();
    assert.equal(!still.ok && still.brokenSeq, 3);
  });

  test(`${dialect}: audit.verify() detects a removed middle record and a removed newest record`, async (t) => {
    const h = await openTestControlPlane(t, dialect);
    if (!h) return;
    for (let i = 0; i < 5; i++) await h.control.audit.append(OPERATOR, 'test.action', `target-${i}`);
    await h.sql('DELETE FROM audit_records WHERE seq = 5');
    const tail = await h.control.audit.verify();
    assert.equal(!tail.ok && tail.brokenSeq, 5, 'the chain head remembers record 5');

    await h.sql('DELETE FROM audit_records WHERE seq = 3');
    const middle = await h.control.audit.verify();
    assert.equal(middle.ok, false);
    assert.equal(!middle.ok && middle.brokenSeq, 4, 'record 4 has lost its predecessor');
    assert.match(!middle.ok ? middle.reason : '', /record 3 .*missing/);
  });

  test(`${dialect}: audit.prune() removes records past retention and the chain still verifies`, async (t) => {
    const clock = manualClock();
    const h = await openTestControlPlane(t, dialect, {
      now: clock.now,
      config: { audit: { retentionDays: 30 } },
    });
    if (!h) return;
    for (let i = 0; i < 4; i++) await h.control.audit.append(OPERATOR, 'old.action', `old-${i}`);
    clock.advance(20 * DAY);
    for (let i = 0; i < 3; i++) await h.control.audit.append(OPERATOR, 'new.action', `new-${i}`);
    clock.advance(15 * DAY); // the first four are now 35 days old, the last three 15

    assert.equal(await h.control.audit.prune(), 4);
    assert.deepEqual(
      (await h.control.audit.list()).map((e) => e.seq),
      [7, 6, 5],
    );
    assert.deepEqual(await h.control.audit.verify(), { ok: true, checked: 3 });
    await h.control.audit.append(OPERATOR, 'after.prune', 'x');
    assert.deepEqual(await h.control.audit.verify(), { ok: true, checked: 4 });
    assert.equal(await h.control.audit.prune(), 0, 'nothing more is old enough');

    // The anchor does not excuse tampering with what remains.
    await h.sql("UPDATE audit_records SET target = 'forged' WHERE seq = 5");
    const result = await h.control.audit.verify();
    assert.equal(!result.ok && result.brokenSeq, 5);
  });
}

test('sqlite: an open control plane prunes the audit trail to its retention on its own', async (t) => {
  const clock = manualClock();
  const h = await openTestControlPlane(t, 'sqlite', {
    now: clock.now,
    config: { audit: { retentionDays: 1 } },
    auditPruneIntervalMs: 20,
  });
  if (!h) return;
  await h.control.audit.append(OPERATOR, 'old.action', 'x');
  clock.advance(2 * DAY);
  await h.control.audit.append(OPERATOR, 'new.action', 'y');
  const deadline = Date.now() + 5000;
  while ((await h.control.audit.list()).length > 1 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.deepEqual(
    (await h.control.audit.list()).map((e) => e.action),
    ['new.action'],
  );
  assert.deepEqual(await h.control.audit.verify(), { ok: true, checked: 1 });
});
