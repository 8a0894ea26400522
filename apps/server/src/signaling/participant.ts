/**
 * A participant of a session: who it is (from its token), its published streams, its
 * subscriptions and its subscriber connection. It outlives a dropped WebSocket for the resume
 * window; `channel` is the WebSocket it speaks through right now, null while dropped.
 */
import type { ConnectionInfo, ServerMessage } from '@conclave/protocol/signaling';
import type { Grant, Role } from '@conclave/protocol/tokens';
import type { PublisherTransport, SubscriberTransport } from '../media/api.ts';
import { newResumeToken } from './ids.ts';
import type { OfferQueue } from './offer-queue.ts';

/** Where a participant's messages go: implemented by the WebSocket connection. */
export interface Channel {
  send(message: ServerMessage): void;
  /** Ends the WebSocket with an error, without the participant leaving (the caller decides). */
  closeWith(code: number, reason: string): void;
}

export interface Subscription {
  consumerId: string;
  mid: string;
}

/** Events kept for a dropped participant, replayed when it resumes. */
const BACKLOG_LIMIT = 1000;

export class Participant {
  readonly resumeToken = newResumeToken();
  readonly createdAt = new Date().toISOString();
  /** Every token id this participant has presented (join and refreshes), for revocation. */
  readonly tokenIds = new Set<string>();
  /** streamId -> publisher connection of a stream this participant publishes. */
  readonly publications = new Map<string, PublisherTransport>();
  /** streamId -> consumer in this participant's subscriber connection. */
  readonly subscriptions = new Map<string, Subscription>();
  subscriber: Promise<SubscriberTransport> | null = null;
  offers: OfferQueue | null = null;
  channel: Channel | null;
  tokenExpiresAt: number;
  private backlog: ServerMessage[] = [];
  private backlogOverflowed = false;
  private readonly timers = new Map<'warn' | 'expire' | 'resume', NodeJS.Timeout>();

  constructor(
    readonly connectionId: string,
    readonly identity: string,
    readonly role: Role,
    readonly grants: ReadonlySet<Grant>,
    readonly data: string,
    tokenId: string,
    tokenExpiresAt: number,
    channel: Channel,
  ) {
    this.tokenIds.add(tokenId);
    this.tokenExpiresAt = tokenExpiresAt;
    this.channel = channel;
  }

  get info(): ConnectionInfo {
    return { connectionId: this.connectionId, data: this.data, role: this.role, createdAt: this.createdAt };
  }

  get connected(): boolean {
    return this.channel !== null;
  }

  /** A participant whose missed events overflowed cannot resume: it would hold a wrong picture. */
  get resumable(): boolean {
    return !this.backlogOverflowed;
  }

  send(message: ServerMessage): void {
    if (this.channel) {
      this.channel.send(message);
      return;
    }
    if (this.backlog.length >= BACKLOG_LIMIT) this.backlogOverflowed = true;
    else this.backlog.push(message);
  }

  detach(): void {
    this.channel = null;
  }

  /** Reattaches after a resume and replays the events sent while the WebSocket was down. */
  attach(channel: Channel): void {
    this.channel = channel;
    const missed = this.backlog;
    this.backlog = [];
    for (const message of missed) channel.send(message);
  }

  setTimer(name: 'warn' | 'expire' | 'resume', delayMs: number, run: () => void): void {
    this.clearTimer(name);
    // setTimeout overflows above 2^31-1 ms; token lifetimes are far below, clamp anyway.
    const timer = setTimeout(run, Math.min(Math.max(0, delayMs), 2 ** 31 - 1));
    timer.unref();
    this.timers.set(name, timer);
  }

  clearTimer(name: 'warn' | 'expire' | 'resume'): void {
    const timer = this.timers.get(name);
    if (timer) clearTimeout(timer);
    this.timers.delete(name);
  }

  clearTimers(): void {
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }
}
