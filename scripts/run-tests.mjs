#!/usr/bin/env node
// Runs every test file (*.test.ts under packages/, apps/ and examples/) with Node's own test
// runner through tsx, and ends with the runner's summary. Arguments narrow the set by substring:
//   npm test -- store rest
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const roots = ['packages', 'apps', 'examples'];

function findTests(dir, out) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) findTests(path, out);
    else if (name.endsWith('.test.ts')) out.push(relative(root, path));
  }
  return out;
}

const filters = process.argv.slice(2);
const files = roots
  .flatMap((r) => findTests(join(root, r), []))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const args = [
  '--import',
  'tsx',
  '--test',
  '--test-reporter=spec',
  // A test file whose tests have all finished exits even if a native handle (node-datachannel,
  // a stray socket) would keep it alive, and a hung test fails after 10 minutes instead of
  // holding the whole run.
  '--test-force-exit',
  '--test-timeout=600000',
  `--test-concurrency=${process.env.CONCLAVE_TEST_CONCURRENCY ?? 2}`,
  ...files,
];
const child = spawn(process.execPath, args, { cwd: root, stdio: 'inherit' });
child.on('exit', (code, signal) => process.exit(signal ? 1 : (code ?? 1)));
