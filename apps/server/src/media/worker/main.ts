/**
 * Entry point of a media worker process (forked by the media plane with `--import tsx`). Reads its
 * options from the environment, answers RPC requests over IPC and reports events. It exits when
 * the main process goes away, so no worker outlives the server.
 */
import { ConclaveError } from '@conclave/protocol/errors';
import type { RpcMethod, RpcReply, RpcRequest, WorkerEvent, WorkerMessage, WorkerOptions } from '../rpc.ts';
import { WORKER_OPTIONS_ENV } from '../rpc.ts';
import { createWorkerCore, pickUdpPort } from './start.ts';

/** The main process may be gone mid-reply (shutdown): a failed send is dropped, not thrown. */
function send(message: WorkerMessage): void {
  if (process.connected) process.send?.(message, undefined, {}, ignoreSendError);
}

function ignoreSendError(): void {
  // the 'disconnect' handler ends the worker
}

async function main(): Promise<void> {
  const options = JSON.parse(process.env[WORKER_OPTIONS_ENV] ?? '{}') as WorkerOptions;
  const port = options.port || (await pickUdpPort(options.bindAddress));
  const core = createWorkerCore({ ...options, port }, (event: WorkerEvent) => send(event), true);
  process.on('message', (message: RpcRequest) => {
    void answer(core.handle.bind(core), message);
  });
  process.on('disconnect', () => {
    core.close();
    setTimeout(() => process.exit(0), 200).unref();
  });
  process.on('uncaughtException', (error) => console.error('media worker: uncaught exception', error));
  send({ type: 'ready', port });
}

async function answer(
  handle: (method: RpcMethod, params: never) => Promise<unknown>,
  request: RpcRequest,
): Promise<void> {
  if (request?.type !== 'request' || typeof request.id !== 'number') return;
  let reply: RpcReply;
  try {
    reply = { type: 'reply', id: request.id, result: await handle(request.method, request.params as never) };
  } catch (error) {
    const failure = error instanceof ConclaveError ? error : new ConclaveError('internal');
    reply = { type: 'reply', id: request.id, error: { code: failure.code, message: failure.message } };
  }
  send(reply);
}

void main();
