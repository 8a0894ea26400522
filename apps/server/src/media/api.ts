/**
 * The media plane's public contract: what the signaling gateway calls. The media plane (this
 * folder) imports nothing from signaling, control, storage or config: it is given plain options.
 *
 * Domain shape, as in mediasoup:
 *   MediaPlane (owns worker processes, one per core by default)
 *     > Router (one per session, lives in one worker)
 *       > PublisherTransport (one PeerConnection per published source: exactly one media
 *         section, so libdatachannel hands every packet of every simulcast layer and RTX to
 *         that track without needing a=ssrc lines) > Producer (the published track)
 *       > SubscriberTransport (one PeerConnection per participant connection, the server
 *         offers; one media section per consumer slot) > Consumer (a subscription)
 *
 * Every object has close(); closing a parent closes its children. Objects in the main process
 * are proxies: the real work happens in the worker process that owns the router.
 *
 * As implemented (notes added with the implementation, the shapes below are unchanged):
 * - `close` events fire whenever the object closes: closed by the caller, its connection failed
 *   or closed from the other side, its router closed, or its worker process died.
 * - Router `producerclose` fires only when the producer ended without the caller closing its
 *   transport or router (ICE/DTLS failure, worker death). Subscriber transports get
 *   `consumerclose` for every consumer whose producer ended, whatever the reason.
 * - Errors are ConclaveError: `sdp_invalid` (bad offer/answer), `stream_not_found` (consume of an
 *   unknown or closed producer), `session_not_found` (router closed), `not_found` (transport
 *   closed), `media_unavailable` (no live worker, or it died mid-request).
 * - SDP: the publisher offers exactly one media section (VP8 or H.264 video, the first of them in
 *   the offer's order, H.264 with packetization-mode=1 only; or Opus audio, answered with
 *   useinbandfec=1;usedtx=1; other codecs are filtered out of the answer, RTX of the chosen codec
 *   is kept). Video subscriber sections also offer RTX with its SSRC (a=ssrc-group:FID). The answer and the
 *   subscriber offers carry the server's candidates (gathering is complete, no server trickle).
 *   Browser candidates may be in the SDP or trickled through addRemoteCandidate(); neither is
 *   required, the server learns the browser's address from its ICE checks (peer-reflexive).
 * - Subscriber media sections have mids '0', '1', ... in order of creation, each sendonly with
 *   one fixed SSRC and msid `slot-<mid>`; consume() says which mid carries the consumer.
 */

export type MediaKind = 'audio' | 'video';
/**
 * A simulcast layer as subscribers name it. With three layers they are the publisher's three
 * encodings; with two, medium and high are the same (the higher one); without simulcast all three
 * mean the one stream.
 */
export type SimulcastLayer = 'low' | 'medium' | 'high';
/** Layer index (0 = lowest) each name asks for; a producer caps it to the layers it has. */
export const SIMULCAST_LAYER_INDEX: Record<SimulcastLayer, number> = {
  low: 0,
  medium: 1,
  high: Number.MAX_SAFE_INTEGER,
};
/** What a published track is, as participants see it. */
export type MediaSource = 'microphone' | 'camera' | 'screen' | 'screenAudio';

export interface MediaPlaneOptions {
  /** Number of worker processes; default: one per core. */
  workers: number;
  /** Address the ICE UDP mux binds to. */
  bindAddress: string;
  /** UDP port of the first worker; worker i listens on rtcPort + i (ICE UDP mux). */
  rtcPort: number;
  /** Address put in host candidates instead of bindAddress (servers behind NAT). */
  announcedAddress?: string;
  /** Preferred SRTP protection profile; AEAD_AES_256_GCM where the browser offers it. */
  preferAes256Gcm: boolean;
  /** Minimum interval between keyframe requests forwarded to one producer. */
  pliThrottleMs: number;
  /** RTP bits per second accepted from one publisher connection, excess dropped; 0 or absent: no limit. */
  maxPublishBitrate?: number;
  /**
   * The TURN-over-TCP/TLS repair relay (worker/tiebreaker-relay.ts): null disables it; a port
   * is that of the first worker (worker i uses port + i); 0 or absent picks free ports.
   */
  tiebreakerRelayPort?: number | null;
  /**
   * Added: run one worker core inside this process instead of worker processes (tests, tools).
   * `workers: 0` means one worker process per core, as in the config.
   */
  inProcess?: boolean;
}

export interface IceCandidateInit {
  candidate: string;
  sdpMid?: string | null;
}

export interface TransportStats {
  transportId: string;
  iceState: string;
  dtlsState: string;
  /** Negotiated DTLS-SRTP profile, e.g. AEAD_AES_256_GCM or SRTP_AES128_CM_SHA1_80, when known. */
  srtpProfile: string | null;
  bytesReceived: number;
  bytesSent: number;
  packetsReceived: number;
  packetsSent: number;
}

/** Minimal typed emitter surface; implementations must never let a listener's throw escape. */
export interface Emitter<Events extends Record<string, unknown[]>> {
  on<K extends keyof Events>(event: K, listener: (...args: Events[K]) => void): this;
  off<K extends keyof Events>(event: K, listener: (...args: Events[K]) => void): this;
}

/** createMediaPlane() in index.ts returns LocalMediaPlane: this plus workers() diagnostics. */
export interface MediaPlane {
  /** Creates a router on the least-loaded worker; the id is the session id. */
  createRouter(routerId: string): Promise<Router>;
  getRouter(routerId: string): Router | undefined;
  close(): Promise<void>;
}

/** A microphone producer that is speaking, as ranked by the router (worker/active-speaker-detector.ts). */
export interface ActiveSpeaker {
  producerId: string;
  participantId: string;
  /** Smoothed level, 0..1 on a dB scale (1: full scale, 0: -50 dBov or quieter). */
  level: number;
}

export interface Router
  extends Emitter<{
    /** A producer closed on its own (transport failed, worker died): tell participants. */
    producerclose: [producerId: string];
    /**
     * The active speakers changed: the dominant speaker first (when speaking), then the others,
     * loudest first; empty when everyone is silent. From the audio level header extension of
     * microphone producers; at most twice a second.
     */
    activespeakers: [speakers: ActiveSpeaker[]];
    close: [];
  }> {
  readonly id: string;
  /**
   * Publish: the client offers a connection with exactly one media section (sendonly);
   * the router answers. The answer carries the server's candidates (no trickle from the server).
   */
  createPublisherTransport(params: {
    participantId: string;
    source: MediaSource;
    kind: MediaKind;
    offerSdp: string;
  }): Promise<{ transport: PublisherTransport; answerSdp: string }>;
  createSubscriberTransport(params: { participantId: string }): Promise<SubscriberTransport>;
  /** Closes the router and everything under it. */
  close(): void;
}

export interface PublisherTransport
  extends Emitter<{
    close: [];
    connectionstatechange: [state: string];
    /**
     * Dynacast (worker/dynacast.ts): the simulcast rids some consumer receives; the publisher may
     * pause the others. Empty: nobody subscribes. Only for simulcast video.
     */
    layerswanted: [rids: string[]];
  }> {
  readonly id: string;
  readonly participantId: string;
  readonly producer: Producer;
  addRemoteCandidate(candidate: IceCandidateInit): void;
  getStats(): Promise<TransportStats>;
  close(): void;
}

export interface Producer {
  readonly id: string;
  readonly participantId: string;
  readonly kind: MediaKind;
  readonly source: MediaSource;
}

/** A subscriber connection's downlink estimate and what it allocated (diagnostics). */
export interface DownlinkStats {
  /** Estimated downlink in bit/s; null while the browser sends no transport-cc feedback. */
  estimateBps: number | null;
  /** Bit/s the browser acknowledged receiving over the last second. */
  ackedBps: number;
  lossFraction: number;
  /** The estimator's latest verdict: normal, overuse, underuse or loss. */
  signal: string;
  /** layer: forwarded now (-1: none yet or paused); wantedLayer: what the allocation allows. */
  consumers: { consumerId: string; layer: number; wantedLayer: number; paused: boolean }[];
}

export interface SubscriberTransport
  extends Emitter<{
    close: [];
    connectionstatechange: [state: string];
    /** A consumer ended because its producer went away. */
    consumerclose: [consumerId: string];
    /**
     * The connection's bandwidth no longer carries this video consumer (paused: true; its audio
     * goes on), or carries it again (false). See worker/layer-allocator.ts.
     */
    consumerpause: [consumerId: string, paused: boolean];
  }> {
  readonly id: string;
  readonly participantId: string;
  /**
   * Subscribes to a producer of the same router. Reuses an idle media section of the same kind
   * when there is one (SSRC, sequence numbers and timestamps stay continuous for the browser);
   * otherwise adds one, and `negotiationNeeded` tells the caller to send a new offer.
   */
  consume(producerId: string): Promise<{ consumerId: string; mid: string; negotiationNeeded: boolean }>;
  closeConsumer(consumerId: string): void;
  /** The current offer (all media sections); call again after consume() reported negotiationNeeded. */
  createOffer(): Promise<string>;
  setAnswer(answerSdp: string): Promise<void>;
  addRemoteCandidate(candidate: IceCandidateInit): void;
  requestKeyFrame(consumerId: string): void;
  /**
   * Caps the simulcast layer a consumer receives (default: the highest being sent). The switch
   * happens on the next keyframe of that layer, which is requested at once; until then the
   * current layer keeps flowing. Rejects with stream_not_found for an unknown consumer.
   */
  setPreferredLayer(consumerId: string, layer: SimulcastLayer): Promise<void>;
  getDownlinkStats(): Promise<DownlinkStats>;
  getStats(): Promise<TransportStats>;
  close(): void;
}
