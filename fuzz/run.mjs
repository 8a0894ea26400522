#!/usr/bin/env node
// Coverage-guided fuzzing with jsfuzz: `npm run fuzz [-- target...]`.
//
// Each target in fuzz/targets/<name>.ts is bundled with esbuild into CommonJS (jsfuzz loads
// targets with require() and instruments them with istanbul), then fuzzed for FUZZ_SECONDS
// (default 60) with its corpus in fuzz/corpus/<name>/. A crash input is moved to
// fuzz/crashes/<name>/ and fuzzing goes on from the corpus until the time is up. A summary of
// executions, coverage and crashes per target is written to fuzz/results.json (read by
// scripts/security-report.mjs). Exit code 1 when any target crashed.
import { spawn } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { build } from 'esbuild';

const fuzzDir = new URL('.', import.meta.url).pathname;
// Bundles, jsfuzz's crash files and its .nyc_output live outside the repository.
const buildDir = mkdtempSync(join(tmpdir(), 'conclave-fuzz-'));
const jsfuzzBin = join(fuzzDir, '../node_modules/jsfuzz/build/src/index.js');
const seconds = Number(process.env.FUZZ_SECONDS ?? 60);
const MAX_RESTARTS = 5;

export function listTargets() {
  return readdirSync(join(fuzzDir, 'targets'))
    .filter((f) => f.endsWith('.ts') && !['contract.ts', 'known-open.ts'].includes(f))
    .map((f) => basename(f, '.ts'))
    .sort();
}

async function bundle(target) {
  mkdirSync(buildDir, { recursive: true });
  // jsfuzz require()s the target and only instruments `.js` files: CommonJS in a .js file.
  writeFileSync(join(buildDir, 'package.json'), '{ "type": "commonjs" }\n');
  await build({
    entryPoints: [join(fuzzDir, 'targets', `${target}.ts`)],
    outfile: join(buildDir, `${target}.js`),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    logLevel: 'warning',
  });
}

/** One jsfuzz run, stopped after `ms`. Resolves with its executions, coverage and crash file. */
function runJsfuzz(target, ms) {
  return new Promise((resolve) => {
    const corpus = join(fuzzDir, 'corpus', target);
    mkdirSync(corpus, { recursive: true });
    const child = spawn(
      process.execPath,
      [
        jsfuzzBin,
        `${target}.js`,
        corpus,
        // Seconds one input may take. The first one includes instrumenting the whole bundle
        // (ajv, yaml: ~12 s on a busy 2-core machine), so this is generous; a real hang still ends here.
        '--timeout',
        '120',
        '--rss-limit-mb',
        '1024',
        '--versifier',
        'false',
      ],
      {
        cwd: buildDir,
        // Already-reported violations (fuzz/targets/known-open.ts) must not stop the fuzzer again.
        env: { ...process.env, CONCLAVE_FUZZ_TOLERATE_KNOWN: '1' },
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    const collect = (d) => {
      output += d;
      if (output.length > 1_000_000) output = output.slice(-200_000);
      if (process.env.FUZZ_VERBOSE) process.stdout.write(d);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const timer = setTimeout(() => stop(child), ms);
    child.on('exit', () => {
      clearTimeout(timer);
      // The worker is a forked child in the same process group: make sure it is gone too.
      stop(child);
      const stats = [...output.matchAll(/#(\d+) \w+\s+cov: (\d+) corp: (\d+)/g)].at(-1);
      const crash = /crash was written to (\S+)/.exec(output)?.[1];
      const failure = crash
        ? output.slice(output.lastIndexOf('====')).split('\n').slice(1, 4).join('\n')
        : '';
      resolve({
        executions: stats ? Number(stats[1]) : 0,
        coverage: stats ? Number(stats[2]) : 0,
        crash: crash ? join(buildDir, crash) : undefined,
        failure,
      });
    });
  });
}

function stop(child) {
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

async function fuzzTarget(target) {
  await bundle(target);
  const deadline = Date.now() + seconds * 1000;
  const result = { executions: 0, coverage: 0, crashes: [], seconds };
  for (let run = 0; run <= MAX_RESTARTS && Date.now() < deadline - 1000; run++) {
    const outcome = await runJsfuzz(target, deadline - Date.now());
    result.executions += outcome.executions;
    result.coverage = Math.max(result.coverage, outcome.coverage);
    if (!outcome.crash || !existsSync(outcome.crash)) break;
    // One reproducer per distinct failure is enough; the same bug found again is not kept twice.
    const signature = outcome.failure.split('\n')[0];
    if (result.crashes.some((c) => c.failure.split('\n')[0] === signature)) {
      rmSync(outcome.crash);
      continue;
    }
    const crashDir = join(fuzzDir, 'crashes', target);
    mkdirSync(crashDir, { recursive: true });
    const kept = join(crashDir, basename(outcome.crash));
    copyFileSync(outcome.crash, kept);
    rmSync(outcome.crash);
    result.crashes.push({ file: kept.slice(fuzzDir.length), failure: outcome.failure });
    console.log(`  ${target}: crash kept in ${kept}\n${outcome.failure}`);
  }
  result.corpus = readdirSync(join(fuzzDir, 'corpus', target)).length;
  console.log(
    `${target}: ${result.executions} inputs, coverage ${result.coverage}, corpus ${result.corpus}, ${result.crashes.length} crashes`,
  );
  return result;
}

async function main() {
  const wanted = process.argv.slice(2);
  const targets = listTargets().filter((t) => wanted.length === 0 || wanted.includes(t));
  const resultsFile = join(fuzzDir, 'results.json');
  const results = existsSync(resultsFile) ? JSON.parse(readFileSync(resultsFile, 'utf8')) : {};
  let crashed = false;
  for (const target of targets) {
    const result = await fuzzTarget(target);
    results[target] = { ...result, date: new Date().toISOString() };
    crashed ||= result.crashes.length > 0;
    writeFileSync(resultsFile, `${JSON.stringify(results, null, 2)}\n`);
  }
  rmSync(buildDir, { recursive: true, force: true });
  process.exit(crashed ? 1 : 0);
}

main();
