/**
 * What a load generator run sets up, and the messages the orchestrator and the load generator
 * process exchange over their IPC channel (never stdout: the Conclave target's API secret travels
 * this way and must not end up in a log).
 */

export type TrackKind = 'audio' | 'video';

/** `${participantId}:${kind}`: each participant publishes at most one track of each kind. */
export type TrackRef = `${string}:${TrackKind}`;

export interface ParticipantSpec {
  id: string;
  publish: TrackKind[];
  subscribe: TrackRef[];
}

export interface Scenario {
  name: string;
  participants: ParticipantSpec[];
}

export type TargetName = 'conclave' | 'janus';

export type TargetConnection =
  | { target: 'conclave'; url: string; apiKey: string; apiSecret: string }
  | { target: 'janus'; url: string };

/** One subscription as counted by its subscriber, cumulative since it started. */
export interface TrackCount {
  subscriber: string;
  track: TrackRef;
  packets: number;
  /** Sequence numbers skipped between received packets: packets lost on the way. */
  lost: number;
}

export interface LoadSnapshot {
  tracks: TrackCount[];
  /** RTP packets each published track has sent, cumulative. */
  sent: Partial<Record<TrackRef, number>>;
}

/** publish, then (once the server's footprint with publishers only is sampled) subscribe. */
export type ToLoadGenerator =
  | { type: 'publish'; connection: TargetConnection; scenario: Scenario }
  /** Connect subscribers until `upTo` of the scenario's subscribers are connected. */
  | { type: 'subscribe'; concurrency: number; upTo: number }
  | { type: 'snapshot' }
  | { type: 'stop' };

export type FromLoadGenerator =
  | { type: 'progress'; phase: string; done: number; total: number }
  | { type: 'published'; peerConnections: number }
  /** Subscriber connections so far, and every retry so far. */
  | { type: 'ready'; peerConnections: number; retries: string[] }
  | { type: 'snapshot'; snapshot: LoadSnapshot }
  | { type: 'failed'; error: string }
  | { type: 'stopped' };

export function trackRef(participantId: string, kind: TrackKind): TrackRef {
  return `${participantId}:${kind}`;
}

export function parseTrackRef(ref: TrackRef): { participantId: string; kind: TrackKind } {
  const at = ref.lastIndexOf(':');
  return { participantId: ref.slice(0, at), kind: ref.slice(at + 1) as TrackKind };
}

/** One publisher of audio and video, `subscribers` participants receiving both. */
export function fanOutScenario(subscribers: number): Scenario {
  const tracks = [trackRef('publisher', 'audio'), trackRef('publisher', 'video')];
  return {
    name: `1 x ${subscribers} audio+video`,
    participants: [
      { id: 'publisher', publish: ['audio', 'video'], subscribe: [] },
      ...Array.from({ length: subscribers }, (_, i) => ({
        id: `subscriber-${i + 1}`,
        publish: [] as TrackKind[],
        subscribe: tracks,
      })),
    ],
  };
}

/** `publishers` participants publishing `kind`, `subscribers` participants receiving them all. */
export function publishersToSubscribersScenario(
  name: string,
  kind: TrackKind,
  publishers: number,
  subscribers: number,
): Scenario {
  const publisherIds = Array.from({ length: publishers }, (_, i) => `publisher-${i + 1}`);
  const tracks = publisherIds.map((id) => trackRef(id, kind));
  return {
    name,
    participants: [
      ...publisherIds.map((id) => ({ id, publish: [kind], subscribe: [] as TrackRef[] })),
      ...Array.from({ length: subscribers }, (_, i) => ({
        id: `subscriber-${i + 1}`,
        publish: [] as TrackKind[],
        subscribe: tracks,
      })),
    ],
  };
}

/** `size` participants, each publishing audio and video and receiving everyone else's. */
export function meetingScenario(size: number): Scenario {
  const ids = Array.from({ length: size }, (_, i) => `participant-${i + 1}`);
  return {
    name: `${size} x ${size} meeting`,
    participants: ids.map((id) => ({
      id,
      publish: ['audio', 'video'] as TrackKind[],
      subscribe: ids
        .filter((other) => other !== id)
        .flatMap((other) => [trackRef(other, 'audio'), trackRef(other, 'video')]),
    })),
  };
}
