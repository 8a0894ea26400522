/**
 * Keeps `npm run bench:sfu` from rotting: its harness, at a tiny N, against the real Conclave
 * server and the real Janus, must deliver the synthetic load and produce the figures the tables
 * print. Not a performance test: no figure is compared with a threshold except delivery and loss.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RunResult } from '../../../../bench/sfu/measure.ts';
import { ratioTable } from '../../../../bench/sfu/report.ts';
import { meetingScenario, type TargetName } from '../../../../bench/sfu/scenario.ts';
import {
  liveKitFailure,
  runLiveKitSuite,
  runSfuSuite,
  type SuiteOptions,
  sfuFailure,
} from '../../../../bench/sfu/suites.ts';
import { janusUnavailable } from '../../../../bench/sfu/targets/janus.ts';
import { requireComponent } from '../support/env.ts';

function options(targets: TargetName[], log: (line: string) => void): SuiteOptions {
  return {
    targets,
    warmupSeconds: 1,
    windowSeconds: 3,
    concurrency: 2,
    conclaveWorkers: 1,
    janusEventLoops: 1,
    log,
  };
}

function assertMeasured(result: RunResult): void {
  assert.equal(sfuFailure(result), null);
  assert.equal(result.subscribers, 2);
  assert.equal(result.peerConnections, 4, 'an audio and a video publication, two subscriber connections');
  assert.equal(result.expectedTracks, 4);
  assert.equal(result.silentTracks, 0, 'every subscriber receives audio and video');
  // 2 subscribers x (150 video + 50 audio) packets/s over a 3 s window: about 1,200 packets.
  assert.ok(result.delivered > 600, `delivered ${result.delivered}`);
  assert.ok(result.lossPercent < 5, `loss ${result.lossPercent}%`);
  assert.ok(result.cpuMicrosPerPacket > 0, 'the server used CPU to forward');
  assert.ok(result.serverProcesses >= 1);
  assert.ok(Number.isFinite(result.rssPerSubscriberBytes));
}

test('bench:sfu against Conclave and Janus at N=2: both deliver, and the ratio table has the row', async (t) => {
  if (!requireComponent(t, 'janus', janusUnavailable() === null)) return;
  const results = await runSfuSuite(
    [2],
    options(['conclave', 'janus'], (line) => t.diagnostic(line)),
  );
  assert.deepEqual(
    results.map((r) => r.target),
    ['conclave', 'janus'],
  );
  for (const result of results) assertMeasured(result);
  assert.match(ratioTable(results), /\| 2 \|/, 'the Conclave/Janus ratio row for N=2');
});

test('bench:sfu --suite livekit shape: a 2 x 2 meeting on Conclave passes (every track, < 1% loss)', async (t) => {
  const [result] = await runLiveKitSuite(
    options(['conclave'], (line) => t.diagnostic(line)),
    [meetingScenario(2)],
  );
  assert.ok(result);
  assert.equal(liveKitFailure(result), null);
  assert.equal(result.expectedTracks, 4, 'each of 2 participants receives the other one audio and video');
  assert.ok(result.delivered > 600, `delivered ${result.delivered}`);
});
