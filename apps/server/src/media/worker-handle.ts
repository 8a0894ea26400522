/**
 * The main process's handle on one media worker: a forked process speaking RPC over IPC, or the
 * same core running in-process (tests). Requests map an id to a promise; a worker that exits
 * fails every pending request with media_unavailable.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { ConclaveError, isErrorCode } from '@conclave/protocol/errors';
import type {
  RpcMethod,
  RpcParams,
  RpcReply,
  RpcResult,
  WorkerEvent,
  WorkerMessage,
  WorkerOptions,
} from './rpc.ts';
import { WORKER_OPTIONS_ENV } from './rpc.ts';
import type { WorkerCore } from './worker/core.ts';

export interface WorkerHandle {
  readonly index: number;
  readonly port: number;
  readonly pid: number | undefined;
  /** Routers placed on this worker (its load). */
  readonly routerIds: Set<string>;
  request<M extends RpcMethod>(method: M, params: RpcParams<M>): Promise<RpcResult<M>>;
  /** Ends the worker; resolves when it is gone. */
  stop(): Promise<void>;
}

export interface WorkerHooks {
  onEvent(event: WorkerEvent): void;
  onExit(worker: WorkerHandle): void;
}

const READY_TIMEOUT_MS = 30_000;
const REQUEST_TIMEOUT_MS = 15_000;

function toError(error: { code: string; message: string }): ConclaveError {
  return isErrorCode(error.code)
    ? new ConclaveError(error.code, error.message)
    : new ConclaveError('internal');
}

export class ProcessWorker implements WorkerHandle {
  readonly index: number;
  readonly routerIds = new Set<string>();
  port = 0;
  readonly #child: ChildProcess;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #nextId = 1;
  #exited = false;
  readonly #exitedPromise: Promise<void>;

  private constructor(index: number, child: ChildProcess, hooks: WorkerHooks) {
    this.index = index;
    this.#child = child;
    this.#exitedPromise = new Promise((resolve) => {
      child.once('exit', () => {
        this.#exited = true;
        for (const pending of this.#pending.values()) {
          pending.reject(new ConclaveError('media_unavailable', 'The media worker stopped'));
        }
        this.#pending.clear();
        hooks.onExit(this);
        resolve();
      });
    });
    child.on('message', (message: WorkerMessage) => {
      if (message.type === 'reply') this.#settle(message);
      else if (message.type === 'event') hooks.onEvent(message);
    });
    // An IPC error (e.g. writing to a dead child) must not crash the server; 'exit' follows.
    child.on('error', (error) => console.error(`media: worker ${index} error`, error));
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  static async start(options: WorkerOptions, hooks: WorkerHooks): Promise<ProcessWorker> {
    const entry = new URL('./worker/main.ts', import.meta.url);
    const child = fork(entry, [], {
      execArgv: ['--import', import.meta.resolve('tsx')],
      env: { ...process.env, [WORKER_OPTIONS_ENV]: JSON.stringify(options) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const worker = new ProcessWorker(options.index, child, hooks);
    worker.port = await waitForReady(child);
    return worker;
  }

  request<M extends RpcMethod>(method: M, params: RpcParams<M>): Promise<RpcResult<M>> {
    if (this.#exited || !this.#child.connected) {
      return Promise.reject(new ConclaveError('media_unavailable', 'The media worker stopped'));
    }
    const id = this.#nextId++;
    return new Promise<RpcResult<M>>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new ConclaveError('media_unavailable', 'The media worker did not answer'));
      }, REQUEST_TIMEOUT_MS);
      timer.unref();
      this.#pending.set(id, {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value as RpcResult<M>);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.#child.send({ type: 'request', id, method, params });
    });
  }

  #settle(reply: RpcReply): void {
    const pending = this.#pending.get(reply.id);
    if (!pending) return;
    this.#pending.delete(reply.id);
    if ('error' in reply) pending.reject(toError(reply.error));
    else pending.resolve(reply.result);
  }

  /** Disconnecting IPC makes the worker close its connections and exit; SIGKILL if it lingers. */
  async stop(): Promise<void> {
    if (this.#exited) return;
    if (this.#child.connected) this.#child.disconnect();
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 2000);
    await this.#exitedPromise;
    clearTimeout(timer);
  }
}

function waitForReady(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new ConclaveError('media_unavailable', 'The media worker did not start'));
    }, READY_TIMEOUT_MS);
    const onMessage = (message: WorkerMessage) => {
      if (message.type !== 'ready') return;
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(message.port);
    };
    const onExit = () => {
      clearTimeout(timer);
      reject(new ConclaveError('media_unavailable', 'The media worker exited while starting'));
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

/** The worker core in the main process: same RPC surface, no IPC. For tests and tools. */
export class InProcessWorker implements WorkerHandle {
  readonly index: number;
  readonly port: number;
  readonly pid = undefined;
  readonly routerIds = new Set<string>();
  readonly #core: WorkerCore;

  constructor(index: number, port: number, core: WorkerCore) {
    this.index = index;
    this.port = port;
    this.#core = core;
  }

  request<M extends RpcMethod>(method: M, params: RpcParams<M>): Promise<RpcResult<M>> {
    // Round-trip through JSON like IPC does, so in-process mode cannot share objects by accident.
    return this.#core.handle(method, structuredClone(params));
  }

  async stop(): Promise<void> {
    this.#core.close();
  }
}
