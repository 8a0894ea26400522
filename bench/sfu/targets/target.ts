import type { TargetConnection, TargetName } from '../scenario.ts';

/** A server under test, running as a child process of the benchmark. */
export interface RunningTarget {
  name: TargetName;
  /** What exactly runs, for the report (version, processes, event loops). */
  description: string;
  /** Root of the process tree whose CPU and memory are measured. */
  pid: number;
  connection: TargetConnection;
  stop(): Promise<void>;
}
