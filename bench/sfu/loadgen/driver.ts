import type { PublisherPeer, SubscriberPeer } from '@conclave/server/media/testing/rtp-peer';
import type { TrackRef } from '../scenario.ts';

export interface Publication {
  peer: PublisherPeer;
  close(): Promise<void>;
}

/** A subscriber's connection and which of its media sections carries each track it asked for. */
export interface Subscription {
  peer: SubscriberPeer;
  midOf: Map<TrackRef, string>;
  close(): Promise<void>;
}

/**
 * How the load generator talks to one kind of SFU. Each published track is a connection of its
 * own (Conclave's design; a VideoRoom publisher handle in Janus) and each subscriber has one
 * connection for all its tracks, so a failed connection can be retried alone: a method that
 * fails has closed whatever it opened. `attempt` (1, 2, ...) keeps identities unique on retries.
 */
export interface LoadDriver {
  prepare(): Promise<void>;
  /**
   * Starts synthetic RTP at realistic rates (video ~150 packets/s with keyframes, audio 50), each
   * packet numbered with a transport-wide sequence number as a browser's are: both SFUs then read
   * it and send transport-cc feedback, and Conclave writes its own number for each subscriber in
   * place instead of inserting the element.
   */
  publish(track: TrackRef, attempt: number): Promise<Publication>;
  /** Resolves once the subscription is negotiated (the connection may still be connecting). */
  subscribe(subscriberId: string, tracks: TrackRef[], attempt: number): Promise<Subscription>;
  close(): Promise<void>;
}
