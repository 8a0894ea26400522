/**
 * The two suites of `npm run bench:sfu`:
 * - `sfu`: one publisher of audio and video, N subscribers, Conclave then Janus for each N, the
 *   same load one after the other in the same run; server CPU per forwarded packet, RSS per
 *   peer connection, delivery and loss.
 * - `livekit`: LiveKit's load-test shapes (audio 10 x 50, video 1 x 100, a 4 x 4 meeting); a
 *   scenario passes when every expected track arrives with under 1% loss.
 */
import { type MeasureOptions, measureRun, type RunResult } from './measure.ts';
import {
  fanOutScenario,
  meetingScenario,
  publishersToSubscribersScenario,
  type Scenario,
  type TargetName,
} from './scenario.ts';
import { startConclave } from './targets/conclave.ts';
import { startJanus } from './targets/janus.ts';
import type { RunningTarget } from './targets/target.ts';

export interface TargetOptions {
  targets: TargetName[];
  /** Conclave media worker processes (1 keeps CPU accounting comparable with one Janus loop). */
  conclaveWorkers: number;
  /** Janus event loops shared by all handles (0: a loop per handle, Janus's default). */
  janusEventLoops: number;
}

export type SuiteOptions = MeasureOptions & TargetOptions;

/** Loss at or above this fails a track in the LiveKit-style suite. */
export const MAX_TRACK_LOSS_PERCENT = 1;

function starter(target: TargetName, options: TargetOptions): () => Promise<RunningTarget> {
  return target === 'conclave'
    ? () => startConclave({ workers: options.conclaveWorkers })
    : () => startJanus({ eventLoops: options.janusEventLoops });
}

async function runScenarios(scenarios: Scenario[], options: SuiteOptions): Promise<RunResult[]> {
  const results: RunResult[] = [];
  for (const scenario of scenarios) {
    for (const target of options.targets) {
      results.push(await measureRun(target, starter(target, options), scenario, options));
    }
  }
  return results;
}

export function runSfuSuite(subscriberCounts: number[], options: SuiteOptions): Promise<RunResult[]> {
  return runScenarios(subscriberCounts.map(fanOutScenario), options);
}

/** Why a run of the `sfu` suite failed (it did not complete, or delivered nothing), or null. */
export function sfuFailure(result: RunResult): string | null {
  if (result.error) return result.error;
  if (result.delivered === 0) return 'no packet delivered';
  return null;
}

export function liveKitScenarios(): Scenario[] {
  return [
    publishersToSubscribersScenario('audio 10 x 50', 'audio', 10, 50),
    publishersToSubscribersScenario('video 1 x 100', 'video', 1, 100),
    meetingScenario(4),
  ];
}

export function runLiveKitSuite(options: SuiteOptions, scenarios = liveKitScenarios()): Promise<RunResult[]> {
  return runScenarios(scenarios, options);
}

/** Why a run of the `livekit` suite failed, or null when every expected track arrived with < 1% loss. */
export function liveKitFailure(result: RunResult): string | null {
  if (result.error) return result.error;
  if (result.expectedTracks === 0) return 'no subscription';
  if (result.silentTracks > 0)
    return `${result.silentTracks} of ${result.expectedTracks} tracks received nothing`;
  if (result.worstTrackLossPercent >= MAX_TRACK_LOSS_PERCENT) {
    return `a track lost ${result.worstTrackLossPercent.toFixed(2)}% (limit ${MAX_TRACK_LOSS_PERCENT}%)`;
  }
  return null;
}
