/**
 * Signaling protocol v1: JSON text frames over a WebSocket at /v1/rtc (WSS when the server runs
 * TLS). docs/protocol.md describes every message with an example.
 *
 * - The first client message must be `join`, carrying the participant token (never in the URL,
 *   so it never lands in an access log). Nothing about the session is sent before it verifies.
 * - Client requests carry a numeric `id`; the server answers each with exactly one `reply`
 *   (same id, a typed `result`) or one `error` (same id). Messages without `id` get no reply,
 *   except an `error` when they are refused.
 * - Server events (connectionCreated, streamCreated, ...) carry no id.
 *
 * Client-to-server messages are validated against the TypeBox schemas below; the server sends
 * the types declared at the end of this file.
 */
import Type, { type Static } from 'typebox';
import type { ErrorCode } from './errors.ts';
import { SIGNALING_LIMITS, SIGNALING_PROTOCOL_VERSION, type StreamSource } from './signaling-constants.ts';
import type { Grant, Role } from './tokens.ts';

export {
  MEDIA_SOURCES,
  SIGNALING_LIMITS,
  SIGNALING_PATH,
  SIGNALING_PROTOCOL_VERSION,
  type StreamSource,
} from './signaling-constants.ts';

const Id = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
const Sdp = Type.String({ minLength: 1, maxLength: SIGNALING_LIMITS.maxSdpBytes });
const StreamId = Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9_-]+$' });
const ConnectionId = Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9_-]+$' });
const Token = Type.String({ minLength: 1, maxLength: 8192 });

// Spelled out (not MEDIA_SOURCES.map) so the static type is the union of the four literals.
export const MediaSourceSchema = Type.Union([
  Type.Literal('microphone'),
  Type.Literal('camera'),
  Type.Literal('screen'),
  Type.Literal('screenAudio'),
]);
export const MediaKindSchema = Type.Union([Type.Literal('audio'), Type.Literal('video')]);

export const IceCandidate = Type.Object(
  {
    candidate: Type.String({ maxLength: SIGNALING_LIMITS.maxCandidateLength }),
    sdpMid: Type.Optional(Type.Union([Type.String({ maxLength: 32 }), Type.Null()])),
    sdpMLineIndex: Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: 1024 }), Type.Null()])),
  },
  { additionalProperties: false },
);
export type IceCandidate = Static<typeof IceCandidate>;

// ---------------------------------------------------------------------------------------------
// Client -> server

export const JoinMessage = Type.Object(
  {
    type: Type.Literal('join'),
    id: Id,
    token: Token,
    /** The session the client means to join; when given, a token for another session is refused. */
    sessionId: Type.Optional(Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9_-]+$' })),
    protocol: Type.Literal(SIGNALING_PROTOCOL_VERSION),
    sdk: Type.Optional(
      Type.Object(
        { name: Type.String({ maxLength: 64 }), version: Type.String({ maxLength: 32 }) },
        { additionalProperties: false },
      ),
    ),
    capabilities: Type.Optional(
      Type.Object(
        { e2ee: Type.Optional(Type.Boolean()), simulcast: Type.Optional(Type.Boolean()) },
        { additionalProperties: false },
      ),
    ),
    /** Resume the same participant after a dropped WebSocket (from the `joined` result). */
    resume: Type.Optional(
      Type.Object(
        { connectionId: ConnectionId, resumeToken: Type.String({ minLength: 1, maxLength: 200 }) },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

export const PublishMessage = Type.Object(
  {
    type: Type.Literal('publish'),
    id: Id,
    source: MediaSourceSchema,
    kind: MediaKindSchema,
    name: Type.Optional(Type.String({ maxLength: SIGNALING_LIMITS.maxStreamNameLength })),
    /** Offer of a connection with exactly one sendonly media section. */
    sdp: Sdp,
  },
  { additionalProperties: false },
);

export const UnpublishMessage = Type.Object(
  { type: Type.Literal('unpublish'), id: Id, streamId: StreamId },
  { additionalProperties: false },
);

export const SubscribeMessage = Type.Object(
  { type: Type.Literal('subscribe'), id: Id, streamId: StreamId },
  { additionalProperties: false },
);

export const UnsubscribeMessage = Type.Object(
  { type: Type.Literal('unsubscribe'), id: Id, streamId: StreamId },
  { additionalProperties: false },
);

/**
 * Caps the simulcast layer received for a subscribed stream (default `high`): `low` is the
 * publisher's smallest encoding. The switch happens on the layer's next keyframe.
 */
export const SetPreferredLayerMessage = Type.Object(
  {
    type: Type.Literal('setPreferredLayer'),
    id: Id,
    streamId: StreamId,
    layer: Type.Union([Type.Literal('low'), Type.Literal('medium'), Type.Literal('high')]),
  },
  { additionalProperties: false },
);

/** Answer to the latest `subscriberOffer`. */
export const SubscriberAnswerMessage = Type.Object(
  { type: Type.Literal('subscriberAnswer'), id: Id, sdp: Sdp },
  { additionalProperties: false },
);

/** A trickled ICE candidate of the browser, for a publisher connection or the subscriber one. */
export const CandidateMessage = Type.Object(
  {
    type: Type.Literal('candidate'),
    /** `subscriber`, or the stream id of a publisher connection. */
    target: Type.Union([Type.Literal('subscriber'), StreamId]),
    candidate: IceCandidate,
  },
  { additionalProperties: false },
);

export const SignalMessage = Type.Object(
  {
    type: Type.Literal('signal'),
    id: Type.Optional(Id),
    signalType: Type.String({ minLength: 1, maxLength: SIGNALING_LIMITS.maxSignalTypeLength }),
    data: Type.String({ maxLength: SIGNALING_LIMITS.maxSignalDataBytes }),
    /** Connection ids; absent means everyone else in the session. */
    to: Type.Optional(
      Type.Array(ConnectionId, { minItems: 1, maxItems: SIGNALING_LIMITS.maxSignalRecipients }),
    ),
  },
  { additionalProperties: false },
);

/**
 * The network path of one media connection died (a network change, NAT rebinding): replace the
 * connection without leaving. libdatachannel cannot restart ICE in place, so this builds a new
 * connection (fresh ICE credentials and DTLS) under the same stream and subscriptions; nobody
 * else sees a change. For a publisher connection (`target` = its stream id) `sdp` is the offer
 * of the new connection and the reply carries the answer; for `subscriber` the server rebuilds
 * the subscriber connection and sends a new `subscriberOffer` after the reply.
 */
export const RestartIceMessage = Type.Object(
  {
    type: Type.Literal('restartIce'),
    id: Id,
    target: Type.Union([Type.Literal('subscriber'), StreamId]),
    sdp: Type.Optional(Sdp),
  },
  { additionalProperties: false },
);

/** A fresh token for the same session and identity, before the current one expires. */
export const RefreshTokenMessage = Type.Object(
  { type: Type.Literal('refreshToken'), id: Id, token: Token },
  { additionalProperties: false },
);

/** Relayed sessions only: an offer, answer or candidate for the one other participant. */
export const RelayMessage = Type.Object(
  {
    type: Type.Literal('relay'),
    to: ConnectionId,
    sdp: Type.Optional(
      Type.Object(
        { type: Type.Union([Type.Literal('offer'), Type.Literal('answer')]), sdp: Sdp },
        { additionalProperties: false },
      ),
    ),
    candidate: Type.Optional(IceCandidate),
  },
  { additionalProperties: false },
);

/** Leave the session cleanly (the WebSocket closing without it is a drop, resumable). */
export const LeaveMessage = Type.Object(
  { type: Type.Literal('leave'), id: Type.Optional(Id) },
  { additionalProperties: false },
);

export const CLIENT_MESSAGE_SCHEMAS = {
  join: JoinMessage,
  publish: PublishMessage,
  unpublish: UnpublishMessage,
  subscribe: SubscribeMessage,
  unsubscribe: UnsubscribeMessage,
  setPreferredLayer: SetPreferredLayerMessage,
  subscriberAnswer: SubscriberAnswerMessage,
  candidate: CandidateMessage,
  signal: SignalMessage,
  restartIce: RestartIceMessage,
  refreshToken: RefreshTokenMessage,
  relay: RelayMessage,
  leave: LeaveMessage,
} as const;

export type ClientMessageType = keyof typeof CLIENT_MESSAGE_SCHEMAS;
export type ClientMessageOf<T extends ClientMessageType> = Static<(typeof CLIENT_MESSAGE_SCHEMAS)[T]>;
export type ClientMessage = { [T in ClientMessageType]: ClientMessageOf<T> }[ClientMessageType];

// ---------------------------------------------------------------------------------------------
// Server -> client

export interface ConnectionInfo {
  connectionId: string;
  /** Connection data from the token: visible to everyone, so never personal data. */
  data: string;
  role: Role;
  createdAt: string;
}

export interface StreamInfo {
  streamId: string;
  connectionId: string;
  kind: 'audio' | 'video';
  source: StreamSource;
  name: string;
  subscriberCount: number;
}

/**
 * Active speakers, sent to every participant of a routed session when they change (at most twice
 * a second): the dominant speaker first while speaking, then the others, loudest first; empty
 * when everyone is silent. From the audio level the browser puts in each microphone packet's
 * header (RFC 6464), which the server reads even in end-to-end encrypted sessions. Server to
 * client only: the schema documents the wire shape (tests validate against it).
 */
export const ActiveSpeakerSchema = Type.Object(
  {
    connectionId: ConnectionId,
    /** The microphone stream whose audio is heard. */
    streamId: StreamId,
    /** Smoothed level, 0..1 on a dB scale (1: full scale, 0: -50 dBov or quieter). */
    level: Type.Number({ minimum: 0, maximum: 1 }),
  },
  { additionalProperties: false },
);
export type ActiveSpeaker = Static<typeof ActiveSpeakerSchema>;

export const ActiveSpeakersEvent = Type.Object(
  {
    type: Type.Literal('activeSpeakers'),
    speakers: Type.Array(ActiveSpeakerSchema),
  },
  { additionalProperties: false },
);

export interface IceServerInfo {
  urls: string[];
  username?: string;
  credential?: string;
}

/** `result` of the `reply` to each request type. */
export interface ReplyResults {
  join: {
    connectionId: string;
    resumeToken: string;
    /** True when this join resumed an earlier connection (its streams and subscriptions survive). */
    resumed: boolean;
    session: { sessionId: string; mediaMode: 'routed' | 'relayed'; e2ee: boolean };
    role: Role;
    grants: Grant[];
    /** Other connections present now, and their streams. */
    connections: ConnectionInfo[];
    streams: StreamInfo[];
    iceServers: IceServerInfo[];
    tokenExpiresAt: string;
  };
  publish: { streamId: string; sdp: string };
  unpublish: Record<string, never>;
  /** The media section (mid) that carries the stream in the subscriber connection. */
  subscribe: { streamId: string; mid: string };
  unsubscribe: Record<string, never>;
  setPreferredLayer: Record<string, never>;
  subscriberAnswer: Record<string, never>;
  signal: Record<string, never>;
  /** The answer for a publisher connection; empty for `subscriber` (an offer follows). */
  restartIce: { sdp?: string };
  refreshToken: { tokenExpiresAt: string };
  leave: Record<string, never>;
}

export type RequestType = keyof ReplyResults;

export type ServerMessage =
  | { type: 'reply'; id: number; result: ReplyResults[RequestType] }
  | { type: 'error'; id?: number; error: { code: ErrorCode; message: string } }
  | { type: 'connectionCreated'; connection: ConnectionInfo }
  | { type: 'connectionDestroyed'; connectionId: string; reason: 'left' | 'dropped' | 'kicked' | 'expired' }
  | { type: 'streamCreated'; stream: StreamInfo }
  | { type: 'streamDestroyed'; streamId: string; reason: 'unpublished' | 'left' | 'failed' | 'kicked' }
  | { type: 'streamUpdated'; streamId: string; subscriberCount: number }
  /**
   * A new offer for the subscriber connection; answer with `subscriberAnswer`. `tracks` maps
   * every media section in use to the stream it carries now (a section may be reused later).
   */
  | { type: 'subscriberOffer'; sdp: string; tracks: { mid: string; streamId: string }[] }
  /** A stream that was being received ended; its media section is idle until reused. */
  | { type: 'consumerClosed'; streamId: string; mid: string }
  /**
   * The subscriber's downlink no longer carries this video (audio-only fallback): the server stopped
   * forwarding it until the bandwidth estimate recovers, then sends `streamResumed`.
   */
  | { type: 'streamPaused'; streamId: string; reason: 'bandwidth' }
  | { type: 'streamResumed'; streamId: string }
  /**
   * Dynacast, to the publisher of a simulcast stream: the rids some subscriber receives now. The
   * SDK pauses the other encodings; empty when nobody subscribes.
   */
  | { type: 'layersWanted'; streamId: string; rids: string[] }
  /** Who speaks now, dominant speaker first (routed sessions; see ActiveSpeakersEvent). */
  | { type: 'activeSpeakers'; speakers: ActiveSpeaker[] }
  | { type: 'signal'; from: string | null; signalType: string; data: string }
  | { type: 'tokenExpiring'; expiresAt: string }
  | {
      type: 'relay';
      from: string;
      sdp?: { type: 'offer' | 'answer'; sdp: string };
      candidate?: IceCandidate;
    };

export type ServerMessageType = ServerMessage['type'];
export type ServerMessageOf<T extends ServerMessageType> = Extract<ServerMessage, { type: T }>;
