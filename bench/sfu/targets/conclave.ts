/** Conclave as a benchmark target: the host script forked with tsx, as `npm start` runs the server. */
import { fork } from 'node:child_process';
import { exited, stopChild } from '../child.ts';
import { forwardLog } from '../output-filter.ts';
import type { HostReady } from './conclave-host.ts';
import type { RunningTarget } from './target.ts';

const HOST = new URL('./conclave-host.ts', import.meta.url).pathname;

export async function startConclave(options: { workers?: number } = {}): Promise<RunningTarget> {
  const workers = options.workers ?? 1;
  const child = fork(HOST, [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, CONCLAVE_BENCH_WORKERS: String(workers) },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  forwardLog(child.stdout, '[conclave server]');
  const log = forwardLog(child.stderr, '[conclave server]');
  const ready = await new Promise<HostReady>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('conclave did not start within 60 s')), 60_000);
    child.once('message', (message: HostReady) => {
      clearTimeout(timer);
      resolve(message);
    });
    void exited(child).then(() => {
      clearTimeout(timer);
      reject(new Error(`conclave exited during start (code ${child.exitCode})`));
    });
  });
  return {
    name: 'conclave',
    description: `Conclave, ${workers} media worker process${workers > 1 ? 'es' : ''} + main process`,
    pid: child.pid!,
    connection: { target: 'conclave', url: ready.url, apiKey: ready.apiKey, apiSecret: ready.apiSecret },
    stop: async () => {
      if (child.connected) child.send({ type: 'stop' });
      await stopChild(child, 10_000);
      if (log.suppressed() > 0)
        console.error(`[conclave server] ${log.suppressed()} repeated log lines suppressed`);
    },
  };
}
