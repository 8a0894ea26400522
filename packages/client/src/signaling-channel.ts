/**
 * One signaling WebSocket: JSON frames, requests matched to replies by id, server events passed
 * on. It knows nothing about sessions or media; Session decides what to do with each message.
 */
import type {
  ClientMessageOf,
  ClientMessageType,
  ReplyResults,
  RequestType,
  ServerMessage,
} from '@conclave/protocol/signaling';
import { TypedEmitter } from './emitter.ts';
import { ConclaveClientError } from './errors.ts';

const REQUEST_TIMEOUT_MS = 15_000;
const OPEN_TIMEOUT_MS = 10_000;

/** A request without its `type` and `id`, which the channel fills in. */
export type RequestBody<T extends RequestType & ClientMessageType> = Omit<ClientMessageOf<T>, 'type' | 'id'>;

interface Pending {
  resolve: (result: unknown) => void;
  reject: (error: ConclaveClientError) => void;
  timer: ReturnType<typeof setTimeout>;
}

export class SignalingChannel extends TypedEmitter<{
  message: [message: ServerMessage];
  close: [code: number, reason: string];
}> {
  readonly #socket: WebSocket;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #closed = false;

  private constructor(socket: WebSocket) {
    super();
    this.#socket = socket;
    socket.addEventListener('message', (event) => this.#onFrame(event.data));
    socket.addEventListener('close', (event) => this.#onClose(event.code, event.reason));
  }

  /** Opens the WebSocket; rejects with `connection_failed` when it cannot. */
  static open(url: string): Promise<SignalingChannel> {
    return new Promise((resolve, reject) => {
      let socket: WebSocket;
      try {
        socket = new WebSocket(url);
      } catch (error) {
        reject(new ConclaveClientError('connection_failed', 'Invalid signaling URL', { cause: error }));
        return;
      }
      const fail = () => {
        clearTimeout(timer);
        socket.close();
        reject(new ConclaveClientError('connection_failed', 'Could not reach the signaling server'));
      };
      const timer = setTimeout(fail, OPEN_TIMEOUT_MS);
      socket.addEventListener('error', fail, { once: true });
      socket.addEventListener(
        'open',
        () => {
          clearTimeout(timer);
          socket.removeEventListener('error', fail);
          resolve(new SignalingChannel(socket));
        },
        { once: true },
      );
    });
  }

  get isOpen(): boolean {
    return !this.#closed && this.#socket.readyState === WebSocket.OPEN;
  }

  request<T extends RequestType & ClientMessageType>(
    type: T,
    body: RequestBody<T>,
    timeoutMs = REQUEST_TIMEOUT_MS,
  ): Promise<ReplyResults[T]> {
    if (!this.isOpen) {
      return Promise.reject(new ConclaveClientError('not_connected', 'The signaling connection is closed'));
    }
    const id = this.#nextId++;
    return new Promise<ReplyResults[T]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new ConclaveClientError('timeout', `No answer to "${type}" from the server`));
      }, timeoutMs);
      this.#pending.set(id, { resolve: resolve as (result: unknown) => void, reject, timer });
      this.#socket.send(JSON.stringify({ ...body, type, id }));
    });
  }

  /** Sends a message that expects no reply (candidates). Dropped when the socket is closed. */
  send<T extends ClientMessageType>(message: ClientMessageOf<T>): boolean {
    if (!this.isOpen) return false;
    this.#socket.send(JSON.stringify(message));
    return true;
  }

  close(code = 1000, reason = ''): void {
    if (this.#closed) return;
    this.#socket.close(code, reason);
    this.#onClose(code, reason);
  }

  #onFrame(data: unknown): void {
    if (typeof data !== 'string') return;
    let message: ServerMessage;
    try {
      message = JSON.parse(data) as ServerMessage;
    } catch {
      console.warn('[conclave] ignored a signaling frame that is not JSON');
      return;
    }
    if (message.type === 'reply' || (message.type === 'error' && message.id !== undefined)) {
      this.#settle(message);
      return;
    }
    this.emit('message', message);
  }

  #settle(message: Extract<ServerMessage, { type: 'reply' | 'error' }>): void {
    const pending = message.id === undefined ? undefined : this.#pending.get(message.id);
    if (!pending || message.id === undefined) return;
    this.#pending.delete(message.id);
    clearTimeout(pending.timer);
    if (message.type === 'reply') pending.resolve(message.result);
    else pending.reject(ConclaveClientError.fromServer(message.error));
  }

  #onClose(code: number, reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const [id, pending] of this.#pending) {
      clearTimeout(pending.timer);
      pending.reject(new ConclaveClientError('not_connected', 'The signaling connection closed'));
      this.#pending.delete(id);
    }
    this.emit('close', code, reason);
  }
}
