/**
 * A minimal client of the Janus HTTP API (https://janus.conf.meetecho.com/docs/rest.html): a
 * session, plugin handles on it, and the long poll that brings asynchronous plugin events
 * (answers, offers) back, matched to their request by transaction id.
 */
import { randomUUID } from 'node:crypto';

export interface Jsep {
  type: 'offer' | 'answer';
  sdp: string;
}

export interface PluginEvent {
  data: Record<string, unknown>;
  jsep?: Jsep;
}

interface JanusMessage {
  janus: string;
  transaction?: string;
  sender?: number;
  data?: { id: number };
  error?: { code: number; reason: string };
  plugindata?: { plugin: string; data: Record<string, unknown> };
  jsep?: Jsep;
}

/** Events one long poll may bring back at once (Janus answers a keepalive after 30 s of none). */
const LONG_POLL_MAX_EVENTS = 50;

export class JanusSession {
  readonly #pending = new Map<string, { resolve(e: PluginEvent): void; reject(e: Error): void }>();
  #polling = true;
  readonly #poller: Promise<void>;

  private constructor(
    readonly baseUrl: string,
    readonly id: number,
  ) {
    this.#poller = this.#poll();
  }

  static async create(baseUrl: string): Promise<JanusSession> {
    const reply = await post(baseUrl, { janus: 'create' });
    return new JanusSession(baseUrl, reply.data!.id);
  }

  async attach(plugin: string): Promise<JanusHandle> {
    const reply = await post(`${this.baseUrl}/${this.id}`, { janus: 'attach', plugin });
    return new JanusHandle(this, reply.data!.id);
  }

  /** Sends a plugin message; resolves with the synchronous reply or the asynchronous event. */
  async message(handleId: number, body: Record<string, unknown>, jsep?: Jsep): Promise<PluginEvent> {
    const transaction = randomUUID();
    const event = new Promise<PluginEvent>((resolve, reject) => {
      this.#pending.set(transaction, { resolve, reject });
    });
    const reply = await post(
      `${this.baseUrl}/${this.id}/${handleId}`,
      { janus: 'message', body, ...(jsep ? { jsep } : {}) },
      transaction,
    ).catch((err: Error) => {
      this.#pending.delete(transaction);
      throw err;
    });
    if (reply.janus === 'success') {
      this.#pending.delete(transaction);
      return pluginEvent(reply);
    }
    return event;
  }

  /** Detaches a handle: Janus hangs up its connection and forgets it. */
  async detach(handleId: number): Promise<void> {
    await post(`${this.baseUrl}/${this.id}/${handleId}`, { janus: 'detach' });
  }

  async destroy(): Promise<void> {
    this.#polling = false;
    await post(`${this.baseUrl}/${this.id}`, { janus: 'destroy' }).catch(() => {});
    await this.#poller;
  }

  async #poll(): Promise<void> {
    while (this.#polling) {
      try {
        const response = await fetch(`${this.baseUrl}/${this.id}?maxev=${LONG_POLL_MAX_EVENTS}`);
        const body = (await response.json()) as JanusMessage | JanusMessage[];
        for (const message of Array.isArray(body) ? body : [body]) this.#dispatch(message);
      } catch (err) {
        if (!this.#polling) return;
        for (const { reject } of this.#pending.values()) reject(err as Error);
        this.#pending.clear();
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  }

  #dispatch(message: JanusMessage): void {
    if (message.janus !== 'event' || !message.transaction) return; // webrtcup, media, keepalive...
    const waiter = this.#pending.get(message.transaction);
    if (!waiter) return;
    this.#pending.delete(message.transaction);
    const event = pluginEvent(message);
    if (typeof event.data.error === 'string') {
      waiter.reject(new Error(`janus: ${event.data.error_code}: ${event.data.error}`));
    } else {
      waiter.resolve(event);
    }
  }
}

export class JanusHandle {
  constructor(
    readonly session: JanusSession,
    readonly id: number,
  ) {}

  message(body: Record<string, unknown>, jsep?: Jsep): Promise<PluginEvent> {
    return this.session.message(this.id, body, jsep);
  }

  detach(): Promise<void> {
    return this.session.detach(this.id);
  }
}

function pluginEvent(message: JanusMessage): PluginEvent {
  const data = message.plugindata?.data ?? {};
  return message.jsep ? { data, jsep: message.jsep } : { data };
}

async function post(url: string, request: Record<string, unknown>, transaction = randomUUID()) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...request, transaction }),
  });
  const reply = (await response.json()) as JanusMessage;
  if (reply.janus === 'error')
    throw new Error(`janus ${request.janus}: ${reply.error?.code}: ${reply.error?.reason}`);
  if (reply.janus === 'success' && typeof reply.plugindata?.data.error === 'string') {
    throw new Error(`janus: ${reply.plugindata.data.error_code}: ${reply.plugindata.data.error}`);
  }
  return reply;
}
