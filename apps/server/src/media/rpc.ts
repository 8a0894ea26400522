/**
 * The typed RPC between the main process and a media worker: requests carry an id and get exactly
 * one reply; events flow from the worker unprompted. Only plain JSON crosses (IPC serialization).
 */
import type {
  ActiveSpeaker,
  DownlinkStats,
  IceCandidateInit,
  MediaKind,
  MediaSource,
  SimulcastLayer,
  TransportStats,
} from './api.ts';

export interface RpcMethods {
  createRouter: [{ routerId: string }, null];
  closeRouter: [{ routerId: string }, null];
  createPublisherTransport: [
    {
      routerId: string;
      transportId: string;
      producerId: string;
      participantId: string;
      source: MediaSource;
      kind: MediaKind;
      offerSdp: string;
    },
    { answerSdp: string },
  ];
  createSubscriberTransport: [{ routerId: string; transportId: string; participantId: string }, null];
  closeTransport: [{ transportId: string }, null];
  addRemoteCandidate: [{ transportId: string; candidate: IceCandidateInit }, null];
  getStats: [{ transportId: string }, TransportStats];
  consume: [
    { transportId: string; consumerId: string; producerId: string },
    { mid: string; negotiationNeeded: boolean },
  ];
  closeConsumer: [{ transportId: string; consumerId: string }, null];
  createOffer: [{ transportId: string }, { sdp: string }];
  setAnswer: [{ transportId: string; answerSdp: string }, null];
  requestKeyFrame: [{ transportId: string; consumerId: string }, null];
  setPreferredLayer: [{ transportId: string; consumerId: string; layer: SimulcastLayer }, null];
  getDownlinkStats: [{ transportId: string }, DownlinkStats];
  /** Diagnostics for tests and benchmarks: counters of one producer. */
  getProducerStats: [
    { producerId: string },
    { packetsReceived: number; keyFrameRequestsSent: number; consumers: number },
  ];
}

export type RpcMethod = keyof RpcMethods;
export type RpcParams<M extends RpcMethod> = RpcMethods[M][0];
export type RpcResult<M extends RpcMethod> = RpcMethods[M][1];

export interface RpcRequest {
  type: 'request';
  id: number;
  method: RpcMethod;
  params: unknown;
}

export interface RpcError {
  code: string;
  message: string;
}

export type RpcReply =
  | { type: 'reply'; id: number; result: unknown }
  | { type: 'reply'; id: number; error: RpcError };

export type WorkerEvent =
  | { type: 'event'; name: 'routerclose'; routerId: string }
  | { type: 'event'; name: 'producerclose'; routerId: string; producerId: string }
  | { type: 'event'; name: 'transportclose'; transportId: string }
  | { type: 'event'; name: 'connectionstatechange'; transportId: string; state: string }
  | { type: 'event'; name: 'consumerclose'; transportId: string; consumerId: string }
  | { type: 'event'; name: 'consumerpause'; transportId: string; consumerId: string; paused: boolean }
  | { type: 'event'; name: 'layerswanted'; transportId: string; rids: string[] }
  | { type: 'event'; name: 'activespeakers'; routerId: string; speakers: ActiveSpeaker[] };

export type WorkerReady = { type: 'ready'; port: number };

export type WorkerMessage = RpcReply | WorkerEvent | WorkerReady;

/** Options a worker process is started with (passed in an environment variable as JSON). */
export interface WorkerOptions {
  index: number;
  bindAddress: string;
  /** 0: the worker picks a free port itself. */
  port: number;
  announcedAddress?: string;
  preferAes256Gcm: boolean;
  pliThrottleMs: number;
  maxPublishBitrate?: number;
  /** null: no tie-breaker relay; 0: a free port. */
  tiebreakerRelayPort?: number | null;
}

export const WORKER_OPTIONS_ENV = 'CONCLAVE_MEDIA_WORKER_OPTIONS';
