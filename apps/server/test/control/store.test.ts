import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LATEST_VERSION, MIGRATIONS } from '../../src/control/store/migrations.ts';
import { DIALECTS, OPERATOR, openTestControlPlane } from './support.ts';

for (const dialect of DIALECTS) {
  test(`${dialect}: migrations run once; opening the store again changes nothing and keeps the data`, async (t) => {
    const h = await openTestControlPlane(t, dialect);
    if (!h) return;
    const created = await h.control.apps.create('shop', OPERATOR);
    const again = await h.reopen();
    const third = await h.reopen();
    const versions = await h.sql('SELECT version FROM schema_migrations ORDER BY version');
    assert.deepEqual(
      versions.map((v) => Number(v.version)),
      MIGRATIONS.map((m) => m.version),
    );
    assert.equal((await again.apps.find('shop'))?.apiKey, created.apiKey);
    const keys = await third.apps.verificationKeys(created.apiKey);
    assert.equal(keys?.secrets[0]?.toString('utf8'), created.apiSecret, 'secrets decrypt after reopening');
    assert.deepEqual(await again.audit.verify(), { ok: true, checked: 1 });
  });

  test(`${dialect}: a store migrated by a newer build is refused`, async (t) => {
    const h = await openTestControlPlane(t, dialect);
    if (!h) return;
    await h.sql('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)', [
      LATEST_VERSION + 1,
      'from the future',
      Date.now(),
    ]);
    await assert.rejects(h.reopen(), /schema is version \d+; this build knows up to/);
  });

  test(`${dialect}: the audit chain serialises concurrent appends from two control planes`, async (t) => {
    const h = await openTestControlPlane(t, dialect);
    if (!h) return;
    const other = await h.reopen();
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 ? other : h.control).audit.append(OPERATOR, 'concurrent', `t-${i}`),
      ),
    );
    assert.deepEqual(await h.control.audit.verify(), { ok: true, checked: 20 });
  });
}
