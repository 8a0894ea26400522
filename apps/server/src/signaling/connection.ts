/**
 * One signaling WebSocket: rate limit, parsing and validation, then the dispatcher table.
 * Messages of a connection are handled one at a time, in order, so a handler never races
 * another of the same participant (a subscribe and the answer to its offer, for instance).
 */
import { ConclaveError, closeCodeOf } from '@conclave/protocol/errors';
import type {
  ClientMessage,
  ClientMessageType,
  ReplyResults,
  RequestType,
  ServerMessage,
} from '@conclave/protocol/signaling';
import WebSocket from 'ws';
import {
  type ConnectionHandle,
  type GatewayContext,
  NO_REPLY,
  REPLIED,
  type SessionContext,
} from './context.ts';
import { joinHandler, SESSION_HANDLERS, type SessionHandler } from './handlers/index.ts';
import { type MessageRefused, parseClientMessage } from './messages.ts';
import type { Participant } from './participant.ts';
import { TokenBucket } from './rate-limit.ts';
import type { Room } from './room.ts';

/** A peer that reads this much less than we send is not keeping up; it would only grow our memory. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
/** Tell a throttled client at most this often, so the refusals cannot become a flood themselves. */
const THROTTLE_NOTICE_INTERVAL_MS = 1000;

export interface ConnectionEvents {
  /** The WebSocket closed; `connection.participant` is set when it had joined. */
  onClosed(connection: Connection): void;
}

export class Connection implements ConnectionHandle {
  participant: Participant | null = null;
  room: Room | null = null;
  lastSeen: number;
  private isClosed = false;
  private leaving = false;
  private queue: Promise<void> = Promise.resolve();
  private readonly bucket: TokenBucket;
  private readonly joinTimer: NodeJS.Timeout;
  private lastThrottleNotice = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly ws: WebSocket,
    readonly origin: string | undefined,
    private readonly gateway: GatewayContext,
    private readonly events: ConnectionEvents,
  ) {
    const { settings } = gateway.deps;
    this.lastSeen = gateway.now();
    this.bucket = new TokenBucket(settings.messagesPerSecond, settings.messageBurst, gateway.now);
    this.joinTimer = setTimeout(() => this.joinTimedOut(), settings.joinTimeoutMs);
    this.joinTimer.unref();
    ws.on('message', (data, isBinary) => this.onFrame(data, isBinary));
    ws.on('pong', () => {
      this.lastSeen = gateway.now();
    });
    // ws reports protocol violations (an oversized frame: close 1009) here, then closes.
    ws.on('error', (err) => gateway.deps.log.debug({ err: err.message }, 'signaling socket error'));
    ws.on('close', () => this.onClose());
  }

  get closed(): boolean {
    return this.isClosed;
  }

  send(message: ServerMessage): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    if (this.ws.bufferedAmount > MAX_BUFFERED_BYTES) {
      this.closeWith(1013, 'slow_consumer');
      return;
    }
    this.ws.send(JSON.stringify(message));
  }

  reply<T extends RequestType>(id: number | undefined, result: ReplyResults[T]): void {
    if (id !== undefined) this.send({ type: 'reply', id, result });
  }

  markLeaving(): void {
    this.leaving = true;
  }

  get isLeaving(): boolean {
    return this.leaving;
  }

  closeWith(code: number, reason: string): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) {
      this.ws.close(code, reason);
    }
  }

  ping(): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.ping();
  }

  /** No pong and no message for too long: the peer is gone; do not wait for a closing handshake. */
  terminate(): void {
    this.ws.terminate();
  }

  private onFrame(data: WebSocket.RawData, isBinary: boolean): void {
    if (this.isClosed) return;
    this.lastSeen = this.gateway.now();
    if (!this.admit()) return;
    if (isBinary) {
      this.closeWith(1003, 'binary frames are not accepted');
      return;
    }
    let message: ClientMessage;
    try {
      message = parseClientMessage(rawText(data));
    } catch (err) {
      this.sendError(err as MessageRefused, (err as MessageRefused).requestId);
      return;
    }
    this.queue = this.queue.then(() => this.dispatch(message));
  }

  /** The rate limit: throttled messages are dropped; a client that keeps flooding is closed. */
  private admit(): boolean {
    const verdict = this.bucket.take();
    if (verdict === 'accept') return true;
    if (verdict === 'disconnect') {
      this.closeWith(1008, 'rate_limited');
      return false;
    }
    const now = this.gateway.now();
    if (now - this.lastThrottleNotice >= THROTTLE_NOTICE_INTERVAL_MS) {
      this.lastThrottleNotice = now;
      this.sendError(new ConclaveError('rate_limited'), undefined);
    }
    return false;
  }

  private async dispatch(message: ClientMessage): Promise<void> {
    if (this.isClosed) return;
    const id = 'id' in message ? message.id : undefined;
    try {
      const outcome = await this.handle(message);
      if (outcome !== REPLIED && outcome !== NO_REPLY) {
        this.reply(id, outcome as ReplyResults[RequestType]);
      }
    } catch (err) {
      this.fail(err, id);
    }
  }

  private async handle(message: ClientMessage): Promise<unknown> {
    if (message.type === 'join') {
      const outcome = await joinHandler({ gateway: this.gateway, connection: this }, message);
      clearTimeout(this.joinTimer);
      return outcome;
    }
    const { participant, room } = this;
    if (!participant || !room) throw new ConclaveError('not_authenticated');
    const ctx: SessionContext = { gateway: this.gateway, connection: this, participant, room };
    const handler = SESSION_HANDLERS[message.type] as SessionHandler<ClientMessageType>;
    return handler(ctx, message as never);
  }

  /**
   * Refuses the message. Before the connection has joined, errors that carry a close code end
   * it (a failed join); afterwards only the session's own rules do (expiry, revocation).
   */
  private fail(err: unknown, id: number | undefined): void {
    const error = err instanceof ConclaveError ? err : this.internal(err);
    this.sendError(error, id);
    const close = closeCodeOf(error.code);
    if (close !== undefined && !this.participant) this.closeWith(close, error.code);
  }

  private internal(err: unknown): ConclaveError {
    this.gateway.deps.log.error({ err }, 'signaling handler failed');
    return new ConclaveError('internal');
  }

  private sendError(error: ConclaveError, id: number | undefined): void {
    this.send({ type: 'error', ...(id !== undefined ? { id } : {}), error: error.toBody().error });
  }

  private joinTimedOut(): void {
    if (this.participant || this.isClosed) return;
    this.sendError(new ConclaveError('not_authenticated', 'No join within the time limit'), undefined);
    this.closeWith(closeCodeOf('not_authenticated') ?? 4000, 'join_timeout');
  }

  private onClose(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    clearTimeout(this.joinTimer);
    this.events.onClosed(this);
  }
}

function rawText(data: WebSocket.RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}
