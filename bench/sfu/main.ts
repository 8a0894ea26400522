/**
 * `npm run bench:sfu`: the same synthetic load against Conclave and against Janus's VideoRoom,
 * one after the other in the same run, with server CPU per forwarded packet, RSS per peer
 * connection, delivery and loss, and the Conclave/Janus ratio; or (--suite livekit) LiveKit's
 * load-test shapes with a pass/fail verdict. Exits non-zero when a run fails. See
 * docs/benchmarks.md for the method and its caveats.
 */
import { writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import type { RunResult } from './measure.ts';
import { liveKitTable, ratioTable, sfuTable } from './report.ts';
import type { TargetName } from './scenario.ts';
import { liveKitFailure, runLiveKitSuite, runSfuSuite, type SuiteOptions, sfuFailure } from './suites.ts';

const HELP = `Usage: npm run bench:sfu -- [options]

  --suite sfu|livekit       sfu (default): 1 publisher (audio+video) -> N subscribers, Conclave vs Janus
                            livekit: audio 10 x 50, video 1 x 100, 4 x 4 meeting; pass = every track, < 1% loss
  --n LIST                  subscriber counts for the sfu suite (default 10,50,100,200)
  --targets LIST            conclave,janus (default: both for sfu, conclave for livekit)
  --duration SECONDS        measurement window per run (default 20)
  --warmup SECONDS          steady-state wait before the window (default 5)
  --quick                   N = 10,50, 8 s window, 3 s warm-up (livekit: 8 s window)
  --concurrency K           subscribers connecting at the same time (default 4)
  --conclave-workers N      Conclave media worker processes (default 1)
  --janus-event-loops N     Janus event loops (default 1; 0 = Janus's default, a thread per handle)
  --json FILE               also write every result as JSON
  -h, --help                this help
`;

interface Cli extends SuiteOptions {
  suite: 'sfu' | 'livekit';
  subscriberCounts: number[];
  json: string | null;
}

function numbers(value: string, what: string): number[] {
  const list = value.split(',').map((v) => Number(v.trim()));
  if (list.length === 0 || list.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new Error(`${what}: expected positive integers separated by commas, got "${value}"`);
  }
  return list;
}

function count(value: string | undefined, fallback: number, what: string, min = 1): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min) throw new Error(`${what}: expected a number >= ${min}, got "${value}"`);
  return n;
}

function parseCli(argv: string[]): Cli | null {
  const { values } = parseArgs({
    args: argv,
    options: {
      suite: { type: 'string', default: 'sfu' },
      n: { type: 'string' },
      targets: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      quick: { type: 'boolean', default: false },
      concurrency: { type: 'string' },
      'conclave-workers': { type: 'string' },
      'janus-event-loops': { type: 'string' },
      json: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return null;
  const suite = values.suite;
  if (suite !== 'sfu' && suite !== 'livekit') throw new Error(`--suite: sfu or livekit, got "${suite}"`);
  const targets = (values.targets ?? (suite === 'sfu' ? 'conclave,janus' : 'conclave')).split(',');
  for (const target of targets) {
    if (target !== 'conclave' && target !== 'janus') throw new Error(`--targets: unknown target "${target}"`);
  }
  return {
    suite,
    subscriberCounts: numbers(values.n ?? (values.quick ? '10,50' : '10,50,100,200'), '--n'),
    targets: targets as TargetName[],
    windowSeconds: count(values.duration, values.quick ? 8 : 20, '--duration'),
    warmupSeconds: count(values.warmup, values.quick ? 3 : 5, '--warmup', 0),
    concurrency: count(values.concurrency, 4, '--concurrency'),
    conclaveWorkers: count(values['conclave-workers'], 1, '--conclave-workers'),
    janusEventLoops: count(values['janus-event-loops'], 1, '--janus-event-loops', 0),
    json: values.json ?? null,
    log: (line) => console.log(line),
  };
}

function loadAverage(): string {
  return loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
}

async function main(): Promise<number> {
  const cli = parseCli(process.argv.slice(2));
  if (!cli) {
    process.stdout.write(HELP);
    return 0;
  }
  const startedAt = new Date();
  const loadAtStart = loadAverage();
  console.log(
    `bench:sfu --suite ${cli.suite} on ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}, ` +
      `${startedAt.toISOString()}, load average ${loadAtStart}`,
  );
  const results =
    cli.suite === 'sfu' ? await runSfuSuite(cli.subscriberCounts, cli) : await runLiveKitSuite(cli);
  const failure = cli.suite === 'sfu' ? sfuFailure : liveKitFailure;
  const loadAtEnd = loadAverage();

  console.log('');
  for (const description of new Set(results.map((r) => `${r.target}: ${r.description}`)))
    console.log(description);
  console.log(
    `window ${cli.windowSeconds} s after ${cli.warmupSeconds} s warm-up; load average ${loadAtStart} at start, ${loadAtEnd} at end`,
  );
  console.log('');
  if (cli.suite === 'sfu') {
    console.log(sfuTable(results));
    console.log('');
    console.log(ratioTable(results));
  } else {
    console.log(liveKitTable(results, liveKitFailure));
  }
  if (cli.json) await writeJson(cli, results, startedAt, loadAtStart, loadAtEnd);

  const failures = results.filter((r) => failure(r) !== null);
  for (const r of failures) console.error(`FAILED: ${r.target} ${r.scenario}: ${failure(r)}`);
  return failures.length > 0 ? 1 : 0;
}

async function writeJson(
  cli: Cli,
  results: RunResult[],
  startedAt: Date,
  loadAtStart: string,
  loadAtEnd: string,
) {
  const { log: _log, json: _json, ...options } = cli;
  const report = {
    startedAt,
    cpus: cpus().length,
    node: process.version,
    loadAtStart,
    loadAtEnd,
    options,
    results,
  };
  await writeFile(cli.json!, `${JSON.stringify(report, null, 2)}\n`);
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(2);
  },
);
