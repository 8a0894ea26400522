/**
 * Relayed sessions (`mediaMode: relayed`): media flows browser to browser and the server only
 * relays offers, answers and candidates (`relay` messages). One RTCPeerConnection per other
 * participant, negotiated with the "perfect negotiation" pattern so both sides may offer.
 *
 * The server carries no media here, so it knows no streams: each participant describes its
 * published tracks to the others with a reserved signal (`conclave:streams`), keyed by the
 * MediaStream id that WebRTC carries in the SDP (a=msid), and the SDK turns that into the same
 * streamCreated / streamDestroyed events as in routed sessions.
 */
import type { ServerMessageOf, StreamInfo } from '@conclave/protocol/signaling';
import type { StreamSource } from '@conclave/protocol/signaling-constants';
import { TypedEmitter } from './emitter.ts';
import type { SessionPort } from './port.ts';
import { type PublishedTrack, Publisher, type PublishOptions } from './publisher.ts';
import { candidateFromWire, candidateToWire, watchConnectionPath } from './rtc.ts';
import { Subscriber } from './subscriber.ts';

export const RELAY_STREAMS_SIGNAL = 'conclave:streams';

interface AnnouncedStream {
  streamId: string;
  /** id of the MediaStream the track is sent in, as the receiver sees it in `track` events. */
  msid: string;
  kind: 'audio' | 'video';
  source: StreamSource;
  name: string;
}

interface Peer {
  connectionId: string;
  pc: RTCPeerConnection;
  polite: boolean;
  makingOffer: boolean;
  ignoreOffer: boolean;
  senders: Map<PublishedTrack, RTCRtpSender>;
  /** msid -> receiver of the remote track in that MediaStream. */
  receivers: Map<string, RTCRtpReceiver>;
  /** streamId -> what the peer announced. */
  streams: Map<string, AnnouncedStream>;
}

interface LocalTrack {
  track: PublishedTrack;
  stream: MediaStream;
  announced: AnnouncedStream;
  publisher: Publisher;
}

export class RelayedMedia extends TypedEmitter<{
  streamCreated: [stream: StreamInfo];
  streamDestroyed: [streamId: string];
}> {
  readonly #port: SessionPort;
  #selfId: string;
  readonly #peers = new Map<string, Peer>();
  readonly #local = new Map<PublishedTrack, LocalTrack>();
  readonly #subscribers = new Map<string, Subscriber>();

  constructor(port: SessionPort, selfId: string) {
    super();
    this.#port = port;
    this.#selfId = selfId;
  }

  get subscribers(): Subscriber[] {
    return [...this.#subscribers.values()];
  }

  async publish(options: PublishOptions): Promise<Publisher> {
    return Publisher.create(this.#port, options, {
      start: async (publisher, t) => this.#addLocal(publisher, t),
      stop: async (t) => this.#removeLocal(t),
    });
  }

  async subscribe(stream: StreamInfo, element?: HTMLMediaElement): Promise<Subscriber> {
    const existing = this.#subscribers.get(stream.streamId);
    if (existing) return existing;
    const subscriber = new Subscriber(stream, element);
    subscriber.onUnsubscribe = async (s) => {
      this.#subscribers.delete(s.stream.streamId);
      s.destroy();
    };
    this.#subscribers.set(stream.streamId, subscriber);
    this.#attach(stream.streamId);
    return subscriber;
  }

  onPeerJoined(connectionId: string): void {
    const peer = this.#peer(connectionId);
    this.#announceTo([peer.connectionId]);
  }

  onPeerLeft(connectionId: string): void {
    const peer = this.#peers.get(connectionId);
    if (!peer) return;
    this.#peers.delete(connectionId);
    peer.pc.close();
    for (const streamId of peer.streams.keys()) this.#dropRemote(streamId);
  }

  onRelay(message: ServerMessageOf<'relay'>): void {
    const peer = this.#peer(message.from);
    if (message.sdp)
      void this.#onDescription(peer, message.sdp).catch((e) => console.warn('[conclave] relay', e));
    if (message.candidate) {
      peer.pc.addIceCandidate(candidateFromWire(message.candidate)).catch((error) => {
        if (!peer.ignoreOffer) console.warn('[conclave] relayed candidate refused', error);
      });
    }
  }

  /** Handles the reserved stream-announcement signal; true when the signal was one. */
  onSignal(message: ServerMessageOf<'signal'>): boolean {
    if (message.signalType !== RELAY_STREAMS_SIGNAL) return false;
    if (!message.from) return true;
    const peer = this.#peer(message.from);
    let announced: AnnouncedStream[];
    try {
      announced = parseAnnouncement(message.data);
    } catch {
      return true;
    }
    const now = new Set(announced.map((s) => s.streamId));
    for (const streamId of [...peer.streams.keys()]) {
      if (!now.has(streamId)) {
        peer.streams.delete(streamId);
        this.#dropRemote(streamId);
      }
    }
    for (const stream of announced) {
      if (peer.streams.has(stream.streamId)) continue;
      peer.streams.set(stream.streamId, stream);
      this.emit('streamCreated', {
        streamId: stream.streamId,
        connectionId: peer.connectionId,
        kind: stream.kind,
        source: stream.source,
        name: stream.name,
        subscriberCount: 0,
      });
      this.#attach(stream.streamId);
    }
    return true;
  }

  async getStats(): Promise<RTCStatsReport | null> {
    const first = this.#peers.values().next().value;
    return first ? first.pc.getStats() : null;
  }

  /** After a rejoin the server gave us a new identity: every peer connection starts over. */
  reset(selfId: string): void {
    this.#selfId = selfId;
    for (const peer of this.#peers.values()) peer.pc.close();
    this.#peers.clear();
  }

  close(): void {
    this.reset(this.#selfId);
    for (const subscriber of this.#subscribers.values()) subscriber.destroy();
    this.#subscribers.clear();
  }

  #peer(connectionId: string): Peer {
    let peer = this.#peers.get(connectionId);
    if (peer) return peer;
    const pc = new RTCPeerConnection(this.#port.rtcConfiguration());
    peer = {
      connectionId,
      pc,
      // The side with the greater id yields when both offer at once.
      polite: this.#selfId > connectionId,
      makingOffer: false,
      ignoreOffer: false,
      senders: new Map(),
      receivers: new Map(),
      streams: new Map(),
    };
    this.#peers.set(connectionId, peer);
    const p = peer;
    pc.addEventListener('negotiationneeded', () => void this.#offer(p));
    // Peer to peer, both ends are browsers: a real ICE restart (new credentials, same DTLS).
    const watch = (): void => {
      watchConnectionPath(pc, () => {
        if (this.#peers.get(connectionId) !== p) return;
        pc.restartIce();
        watch();
      });
    };
    watch();
    pc.addEventListener('icecandidate', (event) => {
      const candidate = candidateToWire(event.candidate);
      if (candidate) this.#port.send({ type: 'relay', to: connectionId, candidate });
    });
    pc.addEventListener('track', (event) => {
      const msid = event.streams[0]?.id;
      if (!msid) return;
      p.receivers.set(msid, event.receiver);
      this.#port.protection?.protectReceiver(event.receiver, p.connectionId);
      for (const stream of p.streams.values()) if (stream.msid === msid) this.#attach(stream.streamId);
    });
    for (const local of this.#local.values()) this.#send(peer, local);
    return peer;
  }

  async #offer(peer: Peer): Promise<void> {
    try {
      peer.makingOffer = true;
      await peer.pc.setLocalDescription();
      const sdp = peer.pc.localDescription;
      if (sdp)
        this.#port.send({ type: 'relay', to: peer.connectionId, sdp: { type: 'offer', sdp: sdp.sdp } });
    } catch (error) {
      console.warn('[conclave] relayed offer failed', error);
    } finally {
      peer.makingOffer = false;
    }
  }

  async #onDescription(peer: Peer, description: { type: 'offer' | 'answer'; sdp: string }): Promise<void> {
    const collision =
      description.type === 'offer' && (peer.makingOffer || peer.pc.signalingState !== 'stable');
    peer.ignoreOffer = !peer.polite && collision;
    if (peer.ignoreOffer) return;
    await peer.pc.setRemoteDescription(description);
    if (description.type !== 'offer') return;
    await peer.pc.setLocalDescription();
    const answer = peer.pc.localDescription;
    if (answer)
      this.#port.send({ type: 'relay', to: peer.connectionId, sdp: { type: 'answer', sdp: answer.sdp } });
  }

  #addLocal(publisher: Publisher, t: PublishedTrack): void {
    const stream = new MediaStream([t.track]);
    t.streamId = `r${stream.id.replace(/[^A-Za-z0-9]/g, '').slice(0, 40)}`;
    const announced: AnnouncedStream = {
      streamId: t.streamId,
      msid: stream.id,
      kind: t.kind,
      source: t.source,
      name: publisher.name,
    };
    const local: LocalTrack = { track: t, stream, announced, publisher };
    this.#local.set(t, local);
    for (const peer of this.#peers.values()) this.#send(peer, local);
    this.#announceTo(undefined);
  }

  #removeLocal(t: PublishedTrack): void {
    if (!this.#local.delete(t)) return;
    t.streamId = null;
    for (const peer of this.#peers.values()) {
      const sender = peer.senders.get(t);
      peer.senders.delete(t);
      if (sender && peer.pc.signalingState !== 'closed') peer.pc.removeTrack(sender);
    }
    this.#announceTo(undefined);
  }

  #send(peer: Peer, local: LocalTrack): void {
    if (peer.senders.has(local.track)) return;
    const sender = peer.pc.addTrack(local.track.track, local.stream);
    this.#port.protection?.protectSender(sender, local.track.kind);
    peer.senders.set(local.track, sender);
  }

  #announceTo(to: string[] | undefined): void {
    if (to === undefined && this.#peers.size === 0) return;
    const data = JSON.stringify([...this.#local.values()].map((l) => l.announced));
    this.#port
      .request('signal', { signalType: RELAY_STREAMS_SIGNAL, data, ...(to ? { to } : {}) })
      .catch((error) => console.warn('[conclave] stream announcement failed', error));
  }

  #attach(streamId: string): void {
    const subscriber = this.#subscribers.get(streamId);
    if (!subscriber) return;
    for (const peer of this.#peers.values()) {
      const stream = peer.streams.get(streamId);
      const receiver = stream ? peer.receivers.get(stream.msid) : undefined;
      if (receiver) subscriber.attachReceiver(receiver);
    }
  }

  #dropRemote(streamId: string): void {
    this.#subscribers.get(streamId)?.destroy();
    this.#subscribers.delete(streamId);
    this.emit('streamDestroyed', streamId);
  }
}

const SOURCES: readonly string[] = ['microphone', 'camera', 'screen', 'screenAudio'];

/** The announcement comes from another browser: accept only well-formed entries. */
function parseAnnouncement(data: string): AnnouncedStream[] {
  const value: unknown = JSON.parse(data);
  if (!Array.isArray(value)) return [];
  return value.filter((s): s is AnnouncedStream => {
    if (typeof s !== 'object' || s === null) return false;
    const r = s as Record<string, unknown>;
    return (
      typeof r.streamId === 'string' &&
      /^[A-Za-z0-9_-]{1,100}$/.test(r.streamId) &&
      typeof r.msid === 'string' &&
      (r.kind === 'audio' || r.kind === 'video') &&
      typeof r.source === 'string' &&
      SOURCES.includes(r.source) &&
      typeof r.name === 'string'
    );
  });
}
