/**
 * One measured run: start a target, let the load generator connect the publications and half the
 * subscribers, take the server's memory baseline, connect the other half, wait for steady state,
 * then sample the server's CPU and the subscribers' counters at the start and at the end of a
 * window. CPU and delivery are differences over that window, so setup (ICE, DTLS, signaling) is
 * not in the figures; memory per subscriber is the growth from the baseline over the second half.
 */
import { sleep } from './child.ts';
import { LoadGeneratorProcess } from './loadgen-process.ts';
import { sampleTree, type TreeSample } from './proc.ts';
import type { LoadSnapshot, Scenario, TargetName } from './scenario.ts';
import type { RunningTarget } from './targets/target.ts';

export interface MeasureOptions {
  warmupSeconds: number;
  windowSeconds: number;
  /** Subscribers connecting at the same time. */
  concurrency: number;
  log: (line: string) => void;
}

export interface RunResult {
  target: TargetName;
  description: string;
  scenario: string;
  /** Participants that subscribe (N in the fan-out scenario). */
  subscribers: number;
  peerConnections: number;
  /** Connections that failed during setup and were made again (see loadgen/main.ts). */
  retries: number;
  windowSeconds: number;
  /** RTP packets the subscribers received in the window (what the server forwarded). */
  delivered: number;
  /** Packets missing from the subscribers' sequence numbers in the window. */
  lost: number;
  lossPercent: number;
  /**
   * Delivered against what the publishers sent in the window times their subscribers: close to
   * 100% when nothing is lost (packets in flight at the window's edges make it differ slightly);
   * it also catches losses sequence numbers cannot show (a stream that stalls).
   */
  deliveredPercent: number;
  /** Subscriptions expected, and those of them that received nothing in the window. */
  expectedTracks: number;
  silentTracks: number;
  worstTrackLossPercent: number;
  serverCpuSeconds: number;
  cpuMicrosPerPacket: number;
  /** Server CPU as a share of one core over the window. */
  serverCpuPercent: number;
  serverProcesses: number;
  serverThreads: number;
  /** Lowest server RSS with half the subscribers connected, media flowing. */
  rssBaselineBytes: number;
  /** Lowest server RSS during the window, with all subscribers. */
  rssLoadedBytes: number;
  /** (loaded - baseline) / the second half's subscriber connections: what one more subscriber costs. */
  rssPerSubscriberBytes: number;
  loadGeneratorCpuPercent: number;
  /** Why the run did not complete; the figures are zero then. */
  error?: string;
}

export async function measureRun(
  targetName: TargetName,
  startTarget: () => Promise<RunningTarget>,
  scenario: Scenario,
  options: MeasureOptions,
): Promise<RunResult> {
  let target: RunningTarget;
  try {
    target = await startTarget();
  } catch (err) {
    const error = (err as Error).message;
    options.log(`[${targetName} ${scenario.name}] FAILED to start: ${error}`);
    return { ...emptyResult(targetName, targetName, scenario), error };
  }
  const label = `[${target.name} ${scenario.name}]`;
  const loadGenerator = new LoadGeneratorProcess();
  try {
    const progress = progressLogger(label, options.log);
    const timeoutMs = setupTimeoutMs(scenario);
    const total = subscriberCount(scenario);
    const half = Math.floor(total / 2);
    const publications = await loadGenerator.publish(target.connection, scenario, progress, timeoutMs);
    // Memory baseline with half the subscribers, in steady state: start-up garbage has been
    // collected by then, which a baseline before any subscriber would still carry.
    if (half > 0) await loadGenerator.subscribe(half, options.concurrency, progress, timeoutMs);
    await sleep(SETTLE_MS);
    const rssHalf = await lowestRss(target.pid, RSS_BASELINE_MS);
    const { retries } = await loadGenerator.subscribe(total, options.concurrency, progress, timeoutMs);
    for (const retry of retries) options.log(`${label} retried ${retry}`);
    options.log(
      `${label} all tracks flowing; ${options.warmupSeconds} s warm-up, ${options.windowSeconds} s window`,
    );
    await sleep(options.warmupSeconds * 1000);
    const before = await sampleAll(target.pid, loadGenerator);
    const rssFull = await lowestRss(target.pid, options.windowSeconds * 1000);
    const after = await sampleAll(target.pid, loadGenerator);
    const result: RunResult = {
      ...summarize(target, scenario, before, after),
      peerConnections: publications + total,
      retries: retries.length,
      rssBaselineBytes: rssHalf,
      rssLoadedBytes: rssFull,
      rssPerSubscriberBytes: (rssFull - rssHalf) / (total - half),
    };
    options.log(`${label} ${describe(result)}`);
    return result;
  } catch (err) {
    const error = (err as Error).message;
    options.log(`${label} FAILED: ${error}`);
    return { ...emptyResult(target.name, target.description, scenario), error };
  } finally {
    await loadGenerator.stop();
    await target.stop();
  }
}

/** Time for media to settle after subscribers join, before memory is sampled. */
const SETTLE_MS = 2000;
/** How long the baseline's memory is watched for its low point. */
const RSS_BASELINE_MS = 3000;
const RSS_SAMPLE_INTERVAL_MS = 500;

/**
 * The lowest RSS of the server's tree over `ms`: the floor of the garbage collector's sawtooth,
 * steadier than any single sample. Also serves as the wait.
 */
async function lowestRss(pid: number, ms: number): Promise<number> {
  const end = performance.now() + ms;
  let lowest = Number.POSITIVE_INFINITY;
  while (performance.now() < end) {
    lowest = Math.min(lowest, sampleTree(pid).rssBytes);
    await sleep(Math.min(RSS_SAMPLE_INTERVAL_MS, Math.max(0, end - performance.now())));
  }
  return lowest;
}

/** Setup time grows with the number of connections; the machine may be busy. */
function setupTimeoutMs(scenario: Scenario): number {
  return 120_000 + scenario.participants.length * 2000;
}

interface Samples {
  server: TreeSample;
  loadGenerator: TreeSample;
  load: LoadSnapshot;
}

async function sampleAll(serverPid: number, loadGenerator: LoadGeneratorProcess): Promise<Samples> {
  const server = sampleTree(serverPid);
  const generator = sampleTree(loadGenerator.pid);
  return { server, loadGenerator: generator, load: await loadGenerator.snapshot() };
}

function summarize(
  target: RunningTarget,
  scenario: Scenario,
  before: Samples,
  after: Samples,
): Omit<
  RunResult,
  'peerConnections' | 'retries' | 'rssBaselineBytes' | 'rssLoadedBytes' | 'rssPerSubscriberBytes'
> {
  const seconds = (after.server.at - before.server.at) / 1000;
  const tracks = trackDeltas(before.load, after.load);
  const delivered = tracks.reduce((sum, t) => sum + t.packets, 0);
  const lost = tracks.reduce((sum, t) => sum + t.lost, 0);
  const expected = tracks.reduce((sum, t) => sum + t.sent, 0);
  const serverCpuSeconds = after.server.cpuSeconds - before.server.cpuSeconds;
  const generatorCpuSeconds = after.loadGenerator.cpuSeconds - before.loadGenerator.cpuSeconds;
  return {
    target: target.name,
    description: target.description,
    scenario: scenario.name,
    subscribers: subscriberCount(scenario),
    windowSeconds: seconds,
    delivered,
    lost,
    lossPercent: percent(lost, delivered + lost),
    deliveredPercent: percent(delivered, expected),
    expectedTracks: tracks.length,
    silentTracks: tracks.filter((t) => t.packets === 0).length,
    worstTrackLossPercent: Math.max(0, ...tracks.map((t) => percent(t.lost, t.packets + t.lost))),
    serverCpuSeconds,
    cpuMicrosPerPacket: delivered > 0 ? (serverCpuSeconds * 1e6) / delivered : 0,
    serverCpuPercent: (serverCpuSeconds / seconds) * 100,
    serverProcesses: after.server.processes,
    serverThreads: after.server.threads,
    loadGeneratorCpuPercent: (generatorCpuSeconds / seconds) * 100,
  };
}

/** Per subscription, what its publisher sent, what arrived and what went missing between two snapshots. */
function trackDeltas(before: LoadSnapshot, after: LoadSnapshot) {
  const start = new Map(before.tracks.map((t) => [`${t.subscriber}/${t.track}`, t]));
  return after.tracks.map((t) => {
    const first = start.get(`${t.subscriber}/${t.track}`);
    return {
      sent: (after.sent[t.track] ?? 0) - (before.sent[t.track] ?? 0),
      packets: t.packets - (first?.packets ?? 0),
      lost: t.lost - (first?.lost ?? 0),
    };
  });
}

function subscriberCount(scenario: Scenario): number {
  return scenario.participants.filter((p) => p.subscribe.length > 0).length;
}

function percent(part: number, whole: number): number {
  return whole > 0 ? (part / whole) * 100 : 0;
}

function emptyResult(target: TargetName, description: string, scenario: Scenario): RunResult {
  return {
    target,
    description,
    scenario: scenario.name,
    subscribers: subscriberCount(scenario),
    peerConnections: 0,
    retries: 0,
    windowSeconds: 0,
    delivered: 0,
    lost: 0,
    lossPercent: 0,
    deliveredPercent: 0,
    expectedTracks: 0,
    silentTracks: 0,
    worstTrackLossPercent: 0,
    serverCpuSeconds: 0,
    cpuMicrosPerPacket: 0,
    serverCpuPercent: 0,
    serverProcesses: 0,
    serverThreads: 0,
    rssBaselineBytes: 0,
    rssLoadedBytes: 0,
    rssPerSubscriberBytes: 0,
    loadGeneratorCpuPercent: 0,
  };
}

export function describe(result: RunResult): string {
  return (
    `${(result.delivered / result.windowSeconds).toFixed(0)} packets/s delivered, ` +
    `loss ${result.lossPercent.toFixed(2)}%, ${result.cpuMicrosPerPacket.toFixed(1)} us CPU/packet ` +
    `(server ${result.serverCpuPercent.toFixed(0)}% of a core, load generator ${result.loadGeneratorCpuPercent.toFixed(0)}%), ` +
    `${(result.rssPerSubscriberBytes / 1024).toFixed(0)} KiB RSS/subscriber connection`
  );
}

/** Logs setup progress about every 10% (and the last step), not every connection. */
function progressLogger(label: string, log: (line: string) => void) {
  let lastLogged = -1;
  return (phase: string, done: number, total: number) => {
    const decile = Math.floor((done / total) * 10);
    if (decile === lastLogged && done !== total) return;
    lastLogged = done === total ? -1 : decile;
    log(`${label} ${phase} ${done}/${total}`);
  };
}
