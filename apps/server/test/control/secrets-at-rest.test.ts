import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { SecretBox } from '../../src/control/crypto/secret-box.ts';
import { DIALECTS, OPERATOR, openTestControlPlane } from './support.ts';

/** Every way a careless implementation might have written the secret down. */
function encodingsOf(apiSecret: string): Buffer[] {
  const raw = Buffer.from(apiSecret, 'base64url');
  const text = Buffer.from(apiSecret, 'utf8');
  return [
    text,
    raw,
    Buffer.from(raw.toString('hex')),
    Buffer.from(raw.toString('hex').toUpperCase()),
    Buffer.from(raw.toString('base64')),
    Buffer.from(text.toString('hex')),
    Buffer.from(text.toString('base64')),
  ];
}

test('sqlite: the API secret never appears in the database file or its WAL, in any encoding', async (t) => {
  const h = await openTestControlPlane(t, 'sqlite');
  if (!h) return;
  const secrets: string[] = [];
  const created = await h.control.apps.create('shop', OPERATOR);
  secrets.push(created.apiSecret);
  secrets.push((await h.control.apps.rotateSecret('shop', OPERATOR)).apiSecret);
  secrets.push((await h.control.apps.create('other', OPERATOR)).apiSecret);
  // The services did read them back (decrypting), so the test is not vacuous.
  assert.equal((await h.control.apps.verificationKeys(created.apiKey))?.secrets.length, 2);

  const files = (await readdir(h.dataDir)).filter((f) => f.startsWith('conclave.db'));
  assert.ok(files.includes('conclave.db'));
  assert.ok(files.includes('conclave.db-wal'), 'the WAL is checked while it still holds the writes');
  const bytes = Buffer.concat(await Promise.all(files.map((f) => readFile(join(h.dataDir, f)))));
  assert.ok(bytes.includes(Buffer.from(created.apiKey)), 'the scan does see what is stored in clear');
  for (const secret of secrets) {
    for (const form of encodingsOf(secret)) {
      assert.equal(
        bytes.includes(form),
        false,
        `secret found in the SQLite files as ${form.toString('latin1')}`,
      );
    }
  }
});

test('postgres: the API secret appears in no row of any table, in any encoding', async (t) => {
  const h = await openTestControlPlane(t, 'postgres');
  if (!h) return;
  const created = await h.control.apps.create('shop', OPERATOR);
  const rotated = await h.control.apps.rotateSecret('shop', OPERATOR);
  const tables = await h.sql('SELECT table_name FROM information_schema.tables WHERE table_schema = ?', [
    h.schema,
  ]);
  assert.ok(tables.length >= 8);
  let dump = '';
  for (const { table_name } of tables) {
    const rows = await h.sql(`SELECT t::text AS row FROM "${String(table_name)}" t`);
    dump += rows.map((r) => String(r.row)).join('\n');
  }
  assert.ok(dump.includes(created.apiKey), 'the dump does contain what is stored in clear');
  const haystack = dump.toLowerCase();
  for (const secret of [created.apiSecret, rotated.apiSecret]) {
    for (const form of encodingsOf(secret)) {
      const needle = form.toString('latin1');
      assert.equal(
        dump.includes(needle) || haystack.includes(needle.toLowerCase()),
        false,
        `found as ${needle}`,
      );
    }
  }
});

for (const dialect of DIALECTS) {
  test(`${dialect}: a sealed secret moved to another application's row does not decrypt`, async (t) => {
    const h = await openTestControlPlane(t, dialect);
    if (!h) return;
    const victim = await h.control.apps.create('victim', OPERATOR);
    const attacker = await h.control.apps.create('attacker', OPERATOR);
    const [sealed] = await h.sql('SELECT iv, ciphertext, auth_tag FROM app_secrets WHERE app_id = ?', [
      victim.appId,
    ]);
    assert.ok(sealed);
    await h.sql('UPDATE app_secrets SET iv = ?, ciphertext = ?, auth_tag = ? WHERE app_id = ?', [
      sealed.iv,
      sealed.ciphertext,
      sealed.auth_tag,
      attacker.appId,
    ]);
    await assert.rejects(h.control.apps.verificationKeys(attacker.apiKey), /Cannot decrypt/);
    const keys = await h.control.apps.verificationKeys(victim.apiKey);
    assert.equal(keys?.secrets[0]?.toString('utf8'), victim.apiSecret);
  });
}

test('SecretBox: a ciphertext opens only under its own key and binding', () => {
  const key = Buffer.alloc(32, 7);
  const box = new SecretBox(key);
  const binding = { appId: 'app_a', secretId: 'sec_1' };
  const sealed = box.seal(Buffer.from('s3cret'), binding);
  assert.equal(sealed.iv.length, 12);
  assert.equal(box.open(sealed, binding).toString(), 's3cret');
  assert.notDeepEqual(box.seal(Buffer.from('s3cret'), binding).iv, sealed.iv, 'a fresh IV every time');
  assert.throws(() => box.open(sealed, { appId: 'app_b', secretId: 'sec_1' }));
  assert.throws(() => box.open(sealed, { appId: 'app_a', secretId: 'sec_2' }));
  assert.throws(() => new SecretBox(Buffer.alloc(32, 8)).open(sealed, binding));
  const flipped = Buffer.from(sealed.ciphertext);
  flipped[0] = (flipped[0] ?? 0) ^ 1;
  assert.throws(() => box.open({ ...sealed, ciphertext: flipped }, binding));
});
