/**
 * Development convenience: run coturn as a child process with the generated configuration
 * (`--turn-spawn`), wait until it answers STUN, and stop it with the server. Production runs
 * coturn as its own service (docs/operations.md, TURN).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmod, writeFile } from 'node:fs/promises';
import type { Config } from '../config/index.ts';
import { coturnOptionsFor, renderCoturnConfig } from './coturn-config.ts';
import { TurnClient } from './testing/turn-client.ts';

export const TURNSERVER_COMMAND = 'turnserver';

export interface CoturnProcess {
  pid: number;
  stop(): Promise<void>;
}

export interface SpawnCoturnOptions {
  configPath: string;
  /** Where to send a STUN Binding request to learn that coturn is up. */
  probe: { host: string; port: number };
  /** Each line coturn logs (it logs to stdout). Default: dropped. */
  onLog?: (line: string) => void;
  command?: string;
  readyTimeoutMs?: number;
}

/**
 * Starts coturn for the development server. Refuses outside development mode: in production
 * coturn belongs under the init system, with its own user, limits and restart policy.
 */
export async function startCoturn(
  config: Config,
  options: { configPath: string; onLog?: (line: string) => void },
): Promise<CoturnProcess> {
  if (!config.devMode) throw new Error('turn.spawn is a development convenience: run coturn as a service');
  const coturn = coturnOptionsFor(config);
  await writeConfigFile(options.configPath, renderCoturnConfig(coturn));
  return spawnCoturn({
    configPath: options.configPath,
    probe: { host: coturn.listeningIps[0] ?? '127.0.0.1', port: coturn.listenPort },
    ...(options.onLog ? { onLog: options.onLog } : {}),
  });
}

/** The configuration carries the shared secret: owner-only, also when the file already existed. */
export async function writeConfigFile(path: string, text: string): Promise<void> {
  await writeFile(path, text, { mode: 0o600 });
  await chmod(path, 0o600);
}

/** Runs `turnserver -c <configPath>` and resolves once it answers a STUN Binding request. */
export async function spawnCoturn(options: SpawnCoturnOptions): Promise<CoturnProcess> {
  const child = spawn(options.command ?? TURNSERVER_COMMAND, ['-c', options.configPath], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const recent: string[] = [];
  const onLine = (line: string) => {
    recent.push(line);
    if (recent.length > 30) recent.shift();
    options.onLog?.(line);
  };
  forwardLines(child, onLine);
  const killOnExit = () => child.kill('SIGKILL');
  // If the server process dies without closing, coturn must not outlive it holding the ports.
  process.once('exit', killOnExit);
  const stop = () => stopChild(child).finally(() => process.off('exit', killOnExit));

  try {
    await waitUntilAnswering(child, options.probe, options.readyTimeoutMs ?? 10_000);
  } catch (err) {
    await stop();
    const reason = err instanceof Error ? err.message : String(err);
    throw new Error(`coturn did not start: ${reason}\n${recent.join('\n')}`);
  }
  return { pid: child.pid ?? 0, stop };
}

function forwardLines(child: ChildProcess, onLine: (line: string) => void): void {
  for (const stream of [child.stdout, child.stderr]) {
    let partial = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) if (line.trim()) onLine(line);
    });
  }
}

async function waitUntilAnswering(
  child: ChildProcess,
  probe: { host: string; port: number },
  timeoutMs: number,
): Promise<void> {
  const exited = once(child, 'exit').then(([code]) => {
    throw new Error(`turnserver exited with code ${code}`);
  });
  const spawnFailed = once(child, 'error').then(([err]) => {
    throw err;
  });
  // Both settle (reject) later, when coturn is stopped: only the race below may observe them.
  exited.catch(() => {});
  spawnFailed.catch(() => {});
  const deadline = Date.now() + timeoutMs;
  const answering = (async () => {
    while (Date.now() < deadline) {
      if (child.exitCode !== null) return;
      if (await answersBinding(probe)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`no STUN answer on ${probe.host}:${probe.port} within ${timeoutMs} ms`);
  })();
  await Promise.race([answering, exited, spawnFailed]);
}

async function answersBinding(probe: { host: string; port: number }): Promise<boolean> {
  const client = await TurnClient.connect({ ...probe, transport: 'udp', timeoutMs: 300 });
  try {
    await client.binding();
    return true;
  } catch {
    return false;
  } finally {
    client.close();
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  // No pid: the spawn itself failed (e.g. turnserver not installed), there is nothing to stop.
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}
