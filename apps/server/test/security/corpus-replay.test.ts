/**
 * Replays every jsfuzz corpus input and every kept crash reproducer through its target
 * (fuzz/targets/<name>.ts): what the fuzzer once found must stay fixed, and the corpus must keep
 * passing as the parsers change. A reproducer listed in fuzz/crashes/OPEN.json is a known, reported
 * bug awaiting its owner's fix: it is replayed as a `todo` (reported, not failing the run) until
 * the entry is removed.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ContractViolation } from '../../../../fuzz/targets/contract.ts';
import { isKnownOpen } from '../../../../fuzz/targets/known-open.ts';

const fuzzDir = new URL('../../../../fuzz/', import.meta.url).pathname;
const targets = readdirSync(join(fuzzDir, 'targets'))
  .filter((f) => f.endsWith('.ts') && !['contract.ts', 'known-open.ts'].includes(f))
  .map((f) => f.slice(0, -3))
  .sort();

/** file name (under fuzz/crashes/<target>/) -> who owns the fix and what breaks. */
const openBugs: Record<string, string> = existsSync(join(fuzzDir, 'crashes', 'OPEN.json'))
  ? JSON.parse(readFileSync(join(fuzzDir, 'crashes', 'OPEN.json'), 'utf8'))
  : {};

function inputsOf(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).map((name) => join(dir, name)) : [];
}

for (const target of targets) {
  test(`fuzz corpus of ${target} replays without a contract violation`, async () => {
    const { fuzz } = (await import(join(fuzzDir, 'targets', `${target}.ts`))) as {
      fuzz: (data: Buffer) => void;
    };
    const files = inputsOf(join(fuzzDir, 'corpus', target));
    assert.ok(files.length > 0, `fuzz/corpus/${target} has seed inputs`);
    const failures: string[] = [];
    let known = 0;
    for (const file of files) {
      try {
        await fuzz(readFileSync(file));
      } catch (error) {
        // The corpus may hold inputs the fuzzer kept while tolerating an open bug; that bug is
        // tracked by its reproducer in fuzz/crashes/ (replayed below), not failed twice here.
        if (error instanceof ContractViolation && isKnownOpen(error.message)) known += 1;
        else failures.push(`${file.slice(fuzzDir.length)}: ${(error as Error).message}`);
      }
    }
    console.log(
      `corpus ${target}: ${files.length} inputs, ${failures.length} failures` +
        (known > 0 ? `, ${known} hits of known open bugs (fuzz/crashes/OPEN.json)` : ''),
    );
    assert.deepEqual(failures, []);
  });

  for (const file of inputsOf(join(fuzzDir, 'crashes', target))) {
    const name = `${target}/${file.split('/').at(-1)}`;
    const open = openBugs[name];
    test(`crash reproducer ${name} no longer crashes`, {
      todo: open ? `open bug: ${open}` : false,
    }, async () => {
      const { fuzz } = (await import(join(fuzzDir, 'targets', `${target}.ts`))) as {
        fuzz: (data: Buffer) => void;
      };
      await fuzz(readFileSync(file));
    });
  }
}
