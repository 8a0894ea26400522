#!/usr/bin/env node
// Runs every test file (*.test.ts under packages/, apps/ and examples/) with Node's own test
// runner through tsx, and ends with a summary line. Arguments narrow the set by substring:
//   npm test -- store rest
//
// Two phases: first the files that drive no browser, two at a time; then the files that start
// Chromium, one at a time. Several Chromium instances at once on a two-core machine freeze video
// for a second or more, and those tests measure freezes (a key ratchet, a layer switch). The
// browser phase runs in a network namespace with loopback only (scripts/loopback-netns.mjs says
// why); none of those files needs PostgreSQL or Redis, which stay outside it.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { inLoopbackNamespace } from './loopback-netns.mjs';

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

/** A test file drives Chromium when it imports playwright-core or a helper that does. */
function drivesBrowser(file) {
  const source = readFileSync(join(root, file), 'utf8');
  return /playwright-core|requireChromium|chromium-support|e2e\/support/.test(source);
}

/**
 * Runs one phase, inside a loopback-only network namespace when `isolate` is set; resolves with
 * its pass and fail counts, read off the spec reporter's summary.
 */
function runPhase(files, concurrency, isolate = false) {
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
    `--test-concurrency=${concurrency}`,
    ...files,
  ];
  return new Promise((resolve) => {
    const [command, ...argv] = isolate ? isolated(process.execPath, args) : [process.execPath, ...args];
    const child = spawn(command, argv, { cwd: root, stdio: ['inherit', 'pipe', 'inherit'] });
    const counts = { passed: 0, failed: 0, exitCode: 0 };
    let pending = '';
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      pending += chunk.toString('utf8');
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        const summary = /^ℹ (pass|fail) (\d+)$/.exec(line);
        if (summary) counts[summary[1] === 'pass' ? 'passed' : 'failed'] += Number(summary[2]);
      }
    });
    child.on('exit', (code, signal) => {
      counts.exitCode = signal ? 1 : (code ?? 1);
      resolve(counts);
    });
  });
}

/**
 * The argv for a browser phase in its own namespace. Without one, CI fails (the rule is loopback
 * only, ever); a developer's machine runs the phase on its own network, with a warning.
 */
function isolated(command, args) {
  const { argv, reason } = inLoopbackNamespace(command, args);
  if (argv) return argv;
  const message = `cannot create a loopback-only network namespace (${reason})`;
  if (process.env.CI) {
    console.error(`${message}: the browser tests would see this machine's other addresses`);
    process.exit(1);
  }
  console.warn(`warning: ${message}; the browser tests run on this machine's network`);
  return [command, ...args];
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
const browserFiles = files.filter(drivesBrowser);
const otherFiles = files.filter((f) => !browserFiles.includes(f));
const concurrency = Number(process.env.CONCLAVE_TEST_CONCURRENCY ?? 2);
const phases = [];
if (otherFiles.length > 0) phases.push(await runPhase(otherFiles, concurrency));
if (browserFiles.length > 0) phases.push(await runPhase(browserFiles, 1, true));
const passed = phases.reduce((sum, p) => sum + p.passed, 0);
const failed = phases.reduce((sum, p) => sum + p.failed, 0);
const exitCode = phases.find((p) => p.exitCode !== 0)?.exitCode ?? 0;
console.log(`${passed} passed, ${failed} failed`);
process.exit(exitCode !== 0 || failed > 0 ? 1 : 0);
