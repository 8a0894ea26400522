/**
 * The Conclave server as the benchmark runs it, in a process of its own: the composition root
 * with the embedded defaults (SQLite in a temporary data directory, plain HTTP on 127.0.0.1),
 * free ports, one media worker, and a throwaway application whose credentials go to the parent
 * over IPC (never to a log). Ends on SIGTERM or on a `stop` message.
 *
 *   forked by bench/sfu/targets/conclave.ts with CONCLAVE_BENCH_WORKERS set
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../../../apps/server/src/app.ts';
import { loadConfig } from '../../../apps/server/src/config/index.ts';

export interface HostReady {
  type: 'ready';
  url: string;
  apiKey: string;
  apiSecret: string;
  workers: number;
}

async function main(): Promise<void> {
  const workers = Number(process.env.CONCLAVE_BENCH_WORKERS ?? 1);
  const dataDir = await mkdtemp(join(tmpdir(), 'conclave-bench-'));
  const config = loadConfig({
    argv: [],
    env: {},
    cwd: dataDir,
    overrides: {
      server: { host: '127.0.0.1', port: 0 },
      dataDir,
      log: { level: 'warn' },
      media: { workers, rtcPort: 0, bindAddress: '127.0.0.1' },
    },
  });
  const server = await startServer(config);
  const app = await server.control.apps.create(`bench-sfu-${process.pid}`, { id: 'bench', source: 'local' });
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= server
      .close()
      .then(() => rm(dataDir, { recursive: true, force: true }))
      .finally(() => process.exit(0));
    return stopping;
  };
  process.on('SIGTERM', () => void stop());
  process.on('message', (message: { type?: string }) => {
    if (message?.type === 'stop') void stop();
  });
  process.on('disconnect', () => void stop());
  const ready: HostReady = {
    type: 'ready',
    url: server.url,
    apiKey: app.apiKey,
    apiSecret: app.apiSecret,
    workers,
  };
  process.send?.(ready);
}

main().catch((err: unknown) => {
  console.error('conclave bench host failed:', err);
  process.exit(1);
});
