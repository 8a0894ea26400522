/**
 * Janus from Debian's `janus` package as the reference SFU: our own minimal configuration in a
 * temporary directory (VideoRoom plugin and HTTP transport only, both on 127.0.0.1, one event
 * loop for all handles), and the loopback shim preloaded so ICE uses 127.0.0.1.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, openSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exited, freeLoopbackPort, sleep, stopChild } from '../child.ts';
import type { RunningTarget } from './target.ts';

export const JANUS_BINARY = '/usr/bin/janus';
const JANUS_LIBRARIES = '/usr/lib/x86_64-linux-gnu/janus';
const SHIM_SOURCE = new URL('../janus/loopback-shim.c', import.meta.url).pathname;

export interface JanusOptions {
  /** Janus event loops shared by all handles (0: Janus's default, a thread per handle). */
  eventLoops?: number;
}

/** Why Janus cannot run here, or null when it can. */
export function janusUnavailable(): string | null {
  if (!existsSync(JANUS_BINARY)) return `${JANUS_BINARY} is missing (Debian package janus)`;
  if (!existsSync(join(JANUS_LIBRARIES, 'plugins/libjanus_videoroom.so')))
    return 'the VideoRoom plugin is missing';
  if (spawnSync('sh', ['-c', 'command -v gcc'], { stdio: 'ignore' }).status !== 0) {
    return 'gcc is missing (it compiles the loopback shim)';
  }
  return null;
}

export async function startJanus(options: JanusOptions = {}): Promise<RunningTarget> {
  const unavailable = janusUnavailable();
  if (unavailable) throw new Error(`janus: ${unavailable}`);
  const eventLoops = options.eventLoops ?? 1;
  const dir = await mkdtemp(join(tmpdir(), 'conclave-bench-janus-'));
  try {
    const shim = compileShim(dir);
    const port = await freeLoopbackPort();
    await writeJanusConfig(dir, port, eventLoops);
    const logFile = join(dir, 'janus.log');
    const log = openSync(logFile, 'w');
    const child = spawn(JANUS_BINARY, ['-F', dir, '-C', join(dir, 'janus.jcfg'), '-o'], {
      env: { ...process.env, LD_PRELOAD: shim },
      stdio: ['ignore', log, log],
    });
    const url = `http://127.0.0.1:${port}/janus`;
    const version = await waitForJanus(child, url, logFile);
    return {
      name: 'janus',
      description: `Janus ${version} VideoRoom, ${eventLoops === 0 ? 'a loop per handle' : `${eventLoops} event loop${eventLoops > 1 ? 's' : ''}`}`,
      pid: child.pid!,
      connection: { target: 'janus', url },
      stop: async () => {
        await stopChild(child, 10_000);
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

function compileShim(dir: string): string {
  const output = join(dir, 'loopback-shim.so');
  const result = spawnSync('gcc', ['-shared', '-fPIC', '-O2', '-o', output, SHIM_SOURCE, '-ldl'], {
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`janus: compiling the loopback shim failed: ${result.stderr}`);
  return output;
}

async function writeJanusConfig(dir: string, port: number, eventLoops: number): Promise<void> {
  // Plugin and transport folders that hold only what the benchmark uses: nothing else loads.
  for (const [folder, library] of [
    ['plugins', 'plugins/libjanus_videoroom.so'],
    ['transports', 'transports/libjanus_http.so'],
  ] as const) {
    await mkdir(join(dir, folder));
    await symlink(join(JANUS_LIBRARIES, library), join(dir, folder, library.split('/')[1]!));
  }
  await mkdir(join(dir, 'none'));
  await writeFile(
    join(dir, 'janus.jcfg'),
    `general: {
  configs_folder = "${dir}"
  plugins_folder = "${dir}/plugins"
  transports_folder = "${dir}/transports"
  events_folder = "${dir}/none"
  loggers_folder = "${dir}/none"
  interface = "127.0.0.1"
  debug_level = 3
  session_timeout = 0
  ${eventLoops > 0 ? `event_loops = ${eventLoops}` : ''}
}
certificates: {}
media: { ipv6 = false }
nat: { nice_debug = false, ice_enforce_list = "127.0.0.1" }
plugins: {}
transports: {}
loggers: {}
events: {}
`,
  );
  await writeFile(
    join(dir, 'janus.transport.http.jcfg'),
    `general: { json = "plain", base_path = "/janus", http = true, port = ${port}, ip = "127.0.0.1", https = false }
admin: { admin_http = false, admin_https = false }
`,
  );
  await writeFile(join(dir, 'janus.plugin.videoroom.jcfg'), 'general: {}\n');
}

/** Polls Janus's `info` until it answers; returns its version string. */
async function waitForJanus(child: ChildProcess, url: string, logFile: string): Promise<string> {
  let died = false;
  void exited(child).then(() => {
    died = true;
  });
  const deadline = performance.now() + 20_000;
  while (!died && performance.now() < deadline) {
    try {
      const response = await fetch(url, {
        method: 'POST',
        body: JSON.stringify({ janus: 'info', transaction: 'bench' }),
      });
      const info = (await response.json()) as { version_string?: string };
      if (info.version_string) return info.version_string;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  await stopChild(child, 2000);
  const tail = (await readFile(logFile, 'utf8').catch(() => '')).split('\n').slice(-20).join('\n');
  throw new Error(`janus did not start (${died ? 'it exited' : 'no answer'}):\n${tail}`);
}
