/**
 * What a server costs, read from /proc: CPU time and resident memory of a process and every
 * process below it (Conclave's media workers are child processes of the server).
 *
 * CPU is utime + stime from /proc/<pid>/stat, which the kernel keeps for the whole thread group:
 * every thread, including threads that already exited (summing /proc/<pid>/task/<tid>/stat would
 * miss those). The unit is the clock tick (getconf CLK_TCK, 100 on Linux), so a window has to be
 * long enough for 10 ms steps not to matter.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

function readClockTicks(): number {
  const result = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const ticks = Number(result.stdout?.trim());
  return Number.isFinite(ticks) && ticks > 0 ? ticks : 100;
}

export const CLOCK_TICKS_PER_SECOND = readClockTicks();

export interface TreeSample {
  /** performance.now() when the sample was taken. */
  at: number;
  /** utime + stime of every process in the tree, in seconds. */
  cpuSeconds: number;
  /** Sum of VmRSS over the tree, in bytes (shared pages count once per process). */
  rssBytes: number;
  processes: number;
  threads: number;
}

interface ProcStat {
  ppid: number;
  cpuTicks: number;
  threads: number;
}

/** Fields of /proc/<pid>/stat after the command name, which may itself contain spaces and ')'. */
function readStat(pid: number): ProcStat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null; // the process exited between listing and reading
  }
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): ppid is field 4, utime 14, stime 15, num_threads 20.
  return {
    ppid: Number(fields[1]),
    cpuTicks: Number(fields[11]) + Number(fields[12]),
    threads: Number(fields[17]),
  };
}

function readRssBytes(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
    return kb ? Number(kb) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** The pid and every descendant, found by walking parent links of all processes. */
export function processTree(rootPid: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const stat = readStat(pid);
    if (!stat) continue;
    const siblings = children.get(stat.ppid) ?? [];
    siblings.push(pid);
    children.set(stat.ppid, siblings);
  }
  const tree: number[] = [];
  const pending = [rootPid];
  while (pending.length > 0) {
    const pid = pending.pop()!;
    tree.push(pid);
    pending.push(...(children.get(pid) ?? []));
  }
  return tree;
}

/** CPU and memory of `rootPid` and all its descendants right now. */
export function sampleTree(rootPid: number): TreeSample {
  let cpuTicks = 0;
  let rssBytes = 0;
  let processes = 0;
  let threads = 0;
  for (const pid of processTree(rootPid)) {
    const stat = readStat(pid);
    if (!stat) continue;
    cpuTicks += stat.cpuTicks;
    threads += stat.threads;
    rssBytes += readRssBytes(pid);
    processes++;
  }
  return {
    at: performance.now(),
    cpuSeconds: cpuTicks / CLOCK_TICKS_PER_SECOND,
    rssBytes,
    processes,
    threads,
  };
}
