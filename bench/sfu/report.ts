/** The benchmark's tables, as Markdown so they read in a terminal and paste into docs/benchmarks.md. */
import type { RunResult } from './measure.ts';

function markdownTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padStart(widths[i]!)).join(' | ')} |`;
  const rule = `|${widths.map((w) => `${'-'.repeat(w + 1)}:`).join('|')}|`;
  return [line(headers), rule, ...rows.map(line)].join('\n');
}

const fixed = (value: number, digits: number) => (Number.isFinite(value) ? value.toFixed(digits) : '-');
const kib = (bytes: number) => fixed(bytes / 1024, 0);

function measuredRow(first: string[], r: RunResult): string[] {
  if (r.error) return [...first, r.target, 'FAILED', ...MEASURED_HEADERS.slice(2).map(() => '-')];
  return [
    ...first,
    r.target,
    String(r.peerConnections),
    fixed(r.delivered / r.windowSeconds, 0),
    String(r.delivered),
    fixed(r.deliveredPercent, 1),
    fixed(r.lossPercent, 2),
    fixed(r.cpuMicrosPerPacket, 1),
    fixed(r.serverCpuPercent, 0),
    kib(r.rssPerSubscriberBytes),
    fixed(r.loadGeneratorCpuPercent, 0),
    String(r.retries),
  ];
}

const MEASURED_HEADERS = [
  'target',
  'peers',
  'packets/s',
  'delivered',
  'delivered/sent %',
  'loss %',
  'CPU us/packet',
  'server CPU %',
  'RSS KiB/subscriber',
  'load gen CPU %',
  'retries',
];

export function sfuTable(results: RunResult[]): string {
  return markdownTable(
    ['N', ...MEASURED_HEADERS],
    results.map((r) => measuredRow([String(r.subscribers)], r)),
  );
}

/** '-' when either growth is not positive: then garbage collection moved RSS more than the peers did. */
function rssRatio(conclave: RunResult, janus: RunResult): string {
  if (conclave.rssPerSubscriberBytes <= 0 || janus.rssPerSubscriberBytes <= 0) return '-';
  return fixed(conclave.rssPerSubscriberBytes / janus.rssPerSubscriberBytes, 2);
}

/** Conclave / Janus per N: below 1 means Conclave is cheaper. */
export function ratioTable(results: RunResult[]): string {
  const rows: string[][] = [];
  for (const n of [...new Set(results.map((r) => r.subscribers))]) {
    const conclave = results.find((r) => r.subscribers === n && r.target === 'conclave' && !r.error);
    const janus = results.find((r) => r.subscribers === n && r.target === 'janus' && !r.error);
    if (!conclave || !janus) continue;
    rows.push([
      String(n),
      fixed(conclave.cpuMicrosPerPacket, 1),
      fixed(janus.cpuMicrosPerPacket, 1),
      fixed(conclave.cpuMicrosPerPacket / janus.cpuMicrosPerPacket, 2),
      rssRatio(conclave, janus),
    ]);
  }
  return markdownTable(
    ['N', 'Conclave us/packet', 'Janus us/packet', 'CPU ratio Conclave/Janus', 'RSS/subscriber ratio'],
    rows,
  );
}

export function liveKitTable(results: RunResult[], failure: (r: RunResult) => string | null): string {
  return markdownTable(
    ['scenario', ...MEASURED_HEADERS, 'tracks', 'worst track loss %', 'result'],
    results.map((r) => {
      const verdict = failure(r);
      return [
        ...measuredRow([r.scenario], r),
        `${r.expectedTracks - r.silentTracks}/${r.expectedTracks}`,
        fixed(r.worstTrackLossPercent, 2),
        verdict === null ? 'pass' : `FAIL: ${verdict}`,
      ];
    }),
  );
}
