/** The benchmark's side of the load generator process: fork it, drive it, end it. */
import { type ChildProcess, fork } from 'node:child_process';
import { exitedWithin, stopChild } from './child.ts';
import type {
  FromLoadGenerator,
  LoadSnapshot,
  Scenario,
  TargetConnection,
  ToLoadGenerator,
} from './scenario.ts';

const ENTRY = new URL('./loadgen/main.ts', import.meta.url).pathname;

type Progress = (phase: string, done: number, total: number) => void;

export class LoadGeneratorProcess {
  readonly #child: ChildProcess;
  readonly #exit: Promise<void>;
  #listener: ((message: FromLoadGenerator) => void) | null = null;

  constructor() {
    this.#child = fork(ENTRY, [], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.#child.on('message', (message: FromLoadGenerator) => this.#listener?.(message));
    this.#exit = new Promise((resolve) => this.#child.once('exit', () => resolve()));
  }

  get pid(): number {
    return this.#child.pid!;
  }

  /** Connects the scenario's publications; resolves with how many connections they took. */
  publish(
    connection: TargetConnection,
    scenario: Scenario,
    onProgress: Progress,
    timeoutMs: number,
  ): Promise<number> {
    return this.#exchange({ type: 'publish', connection, scenario }, timeoutMs, (message) => {
      if (message.type === 'progress') onProgress(message.phase, message.done, message.total);
      return message.type === 'published' ? message.peerConnections : undefined;
    });
  }

  /** Connects subscribers up to `upTo`; resolves once every track flows, with the connections so far. */
  subscribe(
    upTo: number,
    concurrency: number,
    onProgress: Progress,
    timeoutMs: number,
  ): Promise<{ peerConnections: number; retries: string[] }> {
    return this.#exchange({ type: 'subscribe', concurrency, upTo }, timeoutMs, (message) => {
      if (message.type === 'progress') onProgress(message.phase, message.done, message.total);
      return message.type === 'ready' ? message : undefined;
    });
  }

  snapshot(): Promise<LoadSnapshot> {
    return this.#exchange({ type: 'snapshot' }, 30_000, (message) =>
      message.type === 'snapshot' ? message.snapshot : undefined,
    );
  }

  /** Asks the generator to close its connections; kills it if native cleanup hangs. */
  async stop(): Promise<void> {
    if (this.#child.connected) this.#child.send({ type: 'stop' } satisfies ToLoadGenerator);
    if (await exitedWithin(this.#child, 30_000)) return;
    await stopChild(this.#child, 2000);
  }

  /** Sends `request`, feeds every reply to `accept` until it returns a value. */
  #exchange<T>(
    request: ToLoadGenerator,
    timeoutMs: number,
    accept: (message: FromLoadGenerator) => T | undefined,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () => finish(new Error(`load generator: no answer to ${request.type}`)),
        timeoutMs,
      );
      let settled = false;
      const finish = (error: Error | null, value?: T) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (this.#listener === listener) this.#listener = null;
        if (error) reject(error);
        else resolve(value as T);
      };
      const listener = (message: FromLoadGenerator) => {
        if (message.type === 'failed') return finish(new Error(`load generator: ${message.error}`));
        const value = accept(message);
        if (value !== undefined) finish(null, value);
      };
      this.#listener = listener;
      void this.#exit.then(() => finish(new Error('load generator exited')));
      this.#child.send(request);
    });
  }
}
