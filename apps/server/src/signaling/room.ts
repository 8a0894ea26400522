/**
 * A Room is the live side of one session: its participants, their streams and who subscribes
 * to what. It owns the session's media router (created on the first publish or subscribe) and
 * is what every handler changes. Closing chain: room > participants > their transports.
 */

import { ConclaveError } from '@conclave/protocol/errors';
import type { Session } from '@conclave/protocol/rest';
import type { ActiveSpeaker, ServerMessage, StreamInfo } from '@conclave/protocol/signaling';
import type {
  ActiveSpeaker as MediaActiveSpeaker,
  MediaPlane,
  PublisherTransport,
  Router,
} from '../media/api.ts';
import type { SignalingLog } from './deps.ts';
import type { Participant } from './participant.ts';

export type LeaveReason = 'left' | 'dropped' | 'kicked' | 'expired';
export type StreamEndReason = 'unpublished' | 'left' | 'failed' | 'kicked';

export interface Stream {
  info: StreamInfo;
  producerId: string;
  transport: PublisherTransport;
  owner: Participant;
  subscribers: Set<Participant>;
}

export class Room {
  readonly participants = new Map<string, Participant>();
  readonly streams = new Map<string, Stream>();
  private readonly streamByProducer = new Map<string, Stream>();
  private router: Promise<Router> | null = null;
  private closed = false;
  /** The latest `activeSpeakers` list, for participants who join or resume later. */
  private activeSpeakers: ActiveSpeaker[] = [];

  constructor(
    readonly appId: string,
    readonly session: Session,
    private readonly media: MediaPlane | undefined,
    private readonly log: SignalingLog,
    private readonly onEmpty: (room: Room) => void,
  ) {}

  get sessionId(): string {
    return this.session.id;
  }

  get relayed(): boolean {
    return this.session.mediaMode === 'relayed';
  }

  /** Relayed sessions are peer to peer between exactly two participants. */
  get capacity(): number {
    const max = this.session.maxParticipants ?? Number.POSITIVE_INFINITY;
    return this.relayed ? Math.min(2, max) : max;
  }

  broadcast(message: ServerMessage, except?: Participant): void {
    for (const participant of this.participants.values()) {
      if (participant !== except) participant.send(message);
    }
  }

  add(participant: Participant): void {
    this.participants.set(participant.connectionId, participant);
    this.broadcast({ type: 'connectionCreated', connection: participant.info }, participant);
  }

  remove(participant: Participant, reason: LeaveReason): void {
    if (this.participants.get(participant.connectionId) !== participant) return;
    participant.clearTimers();
    const streamReason: StreamEndReason = reason === 'kicked' ? 'kicked' : 'left';
    for (const streamId of [...participant.publications.keys()]) this.endStream(streamId, streamReason);
    for (const streamId of [...participant.subscriptions.keys()]) this.unsubscribe(participant, streamId);
    this.participants.delete(participant.connectionId);
    void participant.subscriber?.then((transport) => transport.close()).catch(() => {});
    participant.subscriber = null;
    this.broadcast({ type: 'connectionDestroyed', connectionId: participant.connectionId, reason });
    if (this.participants.size === 0) this.close();
  }

  /** The session's router, created on first use on the least-loaded media worker. */
  routerFor(): Promise<Router> {
    if (!this.media) return Promise.reject(new ConclaveError('media_unavailable'));
    if (!this.router) {
      this.router = this.media.createRouter(this.sessionId).then((router) => {
        router.on('producerclose', (producerId) => this.onProducerClosed(producerId));
        router.on('activespeakers', (speakers) => this.onActiveSpeakers(speakers));
        if (this.closed) router.close();
        return router;
      });
      this.router.catch(() => {
        this.router = null;
      });
    }
    return this.router;
  }

  addStream(stream: Stream): void {
    this.streams.set(stream.info.streamId, stream);
    this.streamByProducer.set(stream.producerId, stream);
    this.attachTransport(stream, stream.transport);
    this.broadcast({ type: 'streamCreated', stream: { ...stream.info } });
  }

  /**
   * The publisher's connection was rebuilt after a network change (restartIce): the stream keeps
   * its id and its subscribers, who are moved to the new producer. Each consumer is closed before
   * its replacement is created so the replacement reuses the same media section: no
   * renegotiation, and the subscriber's SSRC, sequence numbers and timestamps stay continuous.
   */
  async replaceTransport(stream: Stream, transport: PublisherTransport): Promise<void> {
    const old = stream.transport;
    this.streamByProducer.delete(stream.producerId);
    stream.producerId = transport.producer.id;
    this.streamByProducer.set(stream.producerId, stream);
    this.attachTransport(stream, transport);
    await Promise.all([...stream.subscribers].map((s) => this.moveSubscription(s, stream)));
    this.closeQuietly(() => old.close());
  }

  private attachTransport(stream: Stream, transport: PublisherTransport): void {
    stream.transport = transport;
    stream.owner.publications.set(stream.info.streamId, transport);
    // A publisher connection that fails or closes on its own takes its stream with it, unless it
    // was already replaced.
    transport.on('close', () => {
      if (stream.transport === transport) this.endStream(stream.info.streamId, 'failed');
    });
    transport.on('layerswanted', (rids) => {
      if (stream.transport === transport)
        stream.owner.send({ type: 'layersWanted', streamId: stream.info.streamId, rids });
    });
  }

  private async moveSubscription(participant: Participant, stream: Stream): Promise<void> {
    const subscription = participant.subscriptions.get(stream.info.streamId);
    if (!subscription || !participant.subscriber) return;
    try {
      const transport = await participant.subscriber;
      transport.closeConsumer(subscription.consumerId);
      const consumer = await transport.consume(stream.producerId);
      subscription.consumerId = consumer.consumerId;
      // Another section was free first: the offer that follows maps the stream to its new mid.
      const moved = consumer.mid !== subscription.mid;
      subscription.mid = consumer.mid;
      if (consumer.negotiationNeeded || moved) await participant.offers?.request();
    } catch (err) {
      this.log.warn({ err, sessionId: this.sessionId }, 'moving a subscription to a restarted stream failed');
      this.unsubscribe(participant, stream.info.streamId);
      participant.send({ type: 'consumerClosed', streamId: stream.info.streamId, mid: subscription.mid });
    }
  }

  endStream(streamId: string, reason: StreamEndReason): void {
    const stream = this.streams.get(streamId);
    if (!stream) return;
    this.streams.delete(streamId);
    this.streamByProducer.delete(stream.producerId);
    stream.owner.publications.delete(streamId);
    for (const subscriber of [...stream.subscribers]) {
      const subscription = subscriber.subscriptions.get(streamId);
      this.unsubscribe(subscriber, streamId);
      if (subscription) subscriber.send({ type: 'consumerClosed', streamId, mid: subscription.mid });
    }
    this.closeQuietly(() => stream.transport.close());
    this.broadcast({ type: 'streamDestroyed', streamId, reason });
  }

  subscribed(
    participant: Participant,
    streamId: string,
    subscription: { consumerId: string; mid: string },
  ): void {
    const stream = this.streams.get(streamId);
    if (!stream) return;
    participant.subscriptions.set(streamId, subscription);
    stream.subscribers.add(participant);
    this.countChanged(stream);
  }

  unsubscribe(participant: Participant, streamId: string): void {
    const subscription = participant.subscriptions.get(streamId);
    if (!subscription) return;
    participant.subscriptions.delete(streamId);
    void participant.subscriber
      ?.then((transport) => transport.closeConsumer(subscription.consumerId))
      .catch(() => {});
    const stream = this.streams.get(streamId);
    if (stream?.subscribers.delete(participant)) this.countChanged(stream);
  }

  /** The media plane ended a consumer (its producer went away) that we still had registered. */
  consumerClosed(participant: Participant, consumerId: string): void {
    for (const [streamId, subscription] of participant.subscriptions) {
      if (subscription.consumerId !== consumerId) continue;
      this.unsubscribe(participant, streamId);
      participant.send({ type: 'consumerClosed', streamId, mid: subscription.mid });
    }
  }

  /** The media plane paused (bandwidth) or resumed a video the participant receives. */
  consumerPaused(participant: Participant, consumerId: string, paused: boolean): void {
    for (const [streamId, subscription] of participant.subscriptions) {
      if (subscription.consumerId !== consumerId) continue;
      participant.send(
        paused
          ? { type: 'streamPaused', streamId, reason: 'bandwidth' }
          : { type: 'streamResumed', streamId },
      );
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const participant of [...this.participants.values()]) {
      participant.clearTimers();
      for (const transport of participant.publications.values()) this.closeQuietly(() => transport.close());
      void participant.subscriber?.then((t) => t.close()).catch(() => {});
    }
    this.participants.clear();
    this.streams.clear();
    void this.router?.then((router) => router.close()).catch(() => {});
    this.onEmpty(this);
  }

  private countChanged(stream: Stream): void {
    stream.info.subscriberCount = stream.subscribers.size;
    this.broadcast({
      type: 'streamUpdated',
      streamId: stream.info.streamId,
      subscriberCount: stream.info.subscriberCount,
    });
  }

  /** Tells a participant who (re)joined who speaks now; nothing when nobody does. */
  sendActiveSpeakers(participant: Participant): void {
    const speakers = this.activeSpeakers.filter((speaker) => this.streams.has(speaker.streamId));
    if (speakers.length > 0) participant.send({ type: 'activeSpeakers', speakers });
  }

  /** The router's detector reported a change: name its producers as streams, tell everyone. */
  private onActiveSpeakers(reported: MediaActiveSpeaker[]): void {
    const speakers: ActiveSpeaker[] = [];
    for (const { producerId, level } of reported) {
      // A producer the room no longer knows (its stream just ended) is left out.
      const stream = this.streamByProducer.get(producerId);
      if (stream)
        speakers.push({ connectionId: stream.owner.connectionId, streamId: stream.info.streamId, level });
    }
    if (JSON.stringify(speakers) === JSON.stringify(this.activeSpeakers)) return;
    this.activeSpeakers = speakers;
    this.broadcast({ type: 'activeSpeakers', speakers });
  }

  private onProducerClosed(producerId: string): void {
    const stream = this.streamByProducer.get(producerId);
    if (stream) this.endStream(stream.info.streamId, 'failed');
  }

  private closeQuietly(close: () => void): void {
    try {
      close();
    } catch (err) {
      this.log.warn({ err, sessionId: this.sessionId }, 'closing a media object failed');
    }
  }
}
