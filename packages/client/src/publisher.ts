/**
 * A Publisher sends the local camera, microphone and/or screen. Each track travels in its own
 * RTCPeerConnection with exactly one sendonly media section (the layout the SFU expects: one
 * section per connection lets it receive every simulcast layer and RTX without SSRC lines).
 * The browser offers, the server answers with its candidates; the browser's candidates are
 * trickled with `candidate` messages once the stream id is known.
 */
import type { StreamSource } from '@conclave/protocol/signaling-constants';
import { TypedEmitter } from './emitter.ts';
import { ConclaveClientError, toClientError } from './errors.ts';
import type { SessionPort } from './port.ts';
import { candidateToWire, watchConnectionPath } from './rtc.ts';

export interface PublishOptions {
  /** Microphone: true captures the default one; a track publishes that track. */
  audio?: boolean | MediaStreamTrack;
  /** Camera: true captures the default one; a track publishes that track. */
  video?: boolean | MediaStreamTrack;
  /** Screen share: true asks the user to pick a screen (getDisplayMedia); a track publishes it. */
  screen?: boolean | MediaStreamTrack;
  /** Stream name shown to other participants. */
  name?: string;
  /**
   * Simulcast for video: the camera is sent in three layers by default (a quarter, half and
   * full resolution) so the server can forward each subscriber the layer it can take; screen
   * shares are sent in one layer unless layers are given. `false`: one layer. A list: these
   * layers, lowest resolution first (the server numbers layers in this order).
   */
  simulcast?: boolean | SimulcastLayerOptions[];
  /**
   * Preferred codec for camera and screen video, the two the SFU forwards. Default: the
   * browser's own order (VP8 first in Chromium). H.264 is the one phones encode in hardware.
   * A browser that cannot send the preferred codec sends its default instead. Routed sessions
   * only: in a relayed session the browsers negotiate between themselves, and each sends in
   * its peer's order of preference.
   */
  videoCodec?: VideoCodec;
}

export type VideoCodec = 'VP8' | 'H264';
const VIDEO_CODECS: readonly VideoCodec[] = ['VP8', 'H264'];

export interface SimulcastLayerOptions {
  /** RTP stream id of the layer (1-16 letters, digits, - or _). */
  rid: string;
  /** Resolution divisor of the layer: 4 is a quarter of the width and height. */
  scaleResolutionDownBy: number;
  /** Bitrate cap of the layer, in bits per second; default: the browser's choice. */
  maxBitrate?: number;
}

/** The default camera layers: 'low', 'medium' and 'high' to subscribers. */
export const DEFAULT_SIMULCAST_LAYERS: readonly SimulcastLayerOptions[] = [
  { rid: 'q', scaleResolutionDownBy: 4 },
  { rid: 'h', scaleResolutionDownBy: 2 },
  { rid: 'f', scaleResolutionDownBy: 1 },
];

/** The encodings to send `source` with: simulcast layers, or undefined for one plain encoding. */
export function simulcastEncodings(
  source: StreamSource,
  option: PublishOptions['simulcast'],
): RTCRtpEncodingParameters[] | undefined {
  if (source !== 'camera' && source !== 'screen') return undefined;
  const layers = Array.isArray(option)
    ? option
    : option === true || (option === undefined && source === 'camera')
      ? DEFAULT_SIMULCAST_LAYERS
      : [];
  if (layers.length < 2) return undefined;
  return layers.map((l) => ({
    rid: l.rid,
    scaleResolutionDownBy: l.scaleResolutionDownBy,
    ...(l.maxBitrate ? { maxBitrate: l.maxBitrate } : {}),
  }));
}

export interface PublishedTrack {
  readonly source: StreamSource;
  readonly kind: 'audio' | 'video';
  readonly track: MediaStreamTrack;
  /** Server stream id; changes when the track is republished after a connection failure. */
  streamId: string | null;
  pc: RTCPeerConnection | null;
}

/** How tracks go on air in relayed sessions (peer to peer) instead of to the SFU. */
export interface TrackTransport {
  start(publisher: Publisher, track: PublishedTrack): Promise<void>;
  stop(track: PublishedTrack): Promise<void>;
}

export type PublisherEvents = {
  /** A track is on air with this stream id (again, after a republish). */
  published: [track: PublishedTrack];
  /** A track's connection was rebuilt after a network change; its stream id did not change. */
  restarted: [track: PublishedTrack];
  /** The publisher stopped: unpublished, or its session ended. */
  destroyed: [];
};

export class Publisher extends TypedEmitter<PublisherEvents> {
  readonly name: string;
  /** All local tracks, for a preview. */
  readonly mediaStream: MediaStream;
  readonly tracks: readonly PublishedTrack[];
  readonly #port: SessionPort;
  readonly #ownsTracks: Set<MediaStreamTrack>;
  readonly #transport: TrackTransport | null;
  readonly #simulcast: PublishOptions['simulcast'];
  readonly #videoCodec: VideoCodec | undefined;
  #element: HTMLVideoElement | null = null;
  #destroyed = false;
  /** Set by the session: called once the publisher is gone, so the session forgets it. */
  onDestroyed: (() => void) | null = null;

  private constructor(
    port: SessionPort,
    options: PublishOptions,
    tracks: PublishedTrack[],
    ownsTracks: Set<MediaStreamTrack>,
    transport: TrackTransport | null,
  ) {
    super();
    this.#transport = transport;
    this.#simulcast = options.simulcast;
    this.#videoCodec = options.videoCodec;
    this.#port = port;
    this.name = options.name ?? '';
    this.tracks = tracks;
    this.#ownsTracks = ownsTracks;
    this.mediaStream = new MediaStream(tracks.map((t) => t.track));
    // The browser's own "Stop sharing" button ends the screen track: stop publishing with it.
    for (const t of tracks) {
      if (t.source === 'screen') t.track.addEventListener('ended', () => void this.unpublish());
    }
  }

  /** Captures what the options ask for and publishes every track. */
  static async create(
    port: SessionPort,
    options: PublishOptions,
    transport: TrackTransport | null = null,
  ): Promise<Publisher> {
    if (options.videoCodec !== undefined && !VIDEO_CODECS.includes(options.videoCodec)) {
      throw new ConclaveClientError(
        'invalid_argument',
        `videoCodec must be one of ${VIDEO_CODECS.join(', ')}`,
      );
    }
    const { tracks, owned } = await captureTracks(options);
    if (tracks.length === 0) {
      throw new ConclaveClientError('invalid_argument', 'Nothing to publish: ask for audio, video or screen');
    }
    const publisher = new Publisher(port, options, tracks, owned, transport);
    try {
      await Promise.all(tracks.map((t) => publisher.#publishTrack(t)));
    } catch (error) {
      await publisher.unpublish();
      throw error;
    }
    return publisher;
  }

  /**
   * Dynacast: the server says which simulcast layers (rids) anyone receives; the others stop
   * encoding (`active: false`) until wanted again, saving uplink and CPU.
   */
  async setLayersWanted(streamId: string, rids: string[]): Promise<void> {
    const published = this.tracks.find((t) => t.streamId === streamId);
    // One sender per publisher connection (one media section each).
    const sender = published?.pc?.getSenders()[0];
    if (!sender) return;
    const parameters = sender.getParameters();
    if (!parameters.encodings || parameters.encodings.length < 2) return;
    let changed = false;
    for (const [index, encoding] of parameters.encodings.entries()) {
      // The lowest layer stays on even when nobody wants it: a subscriber arriving later then
      // gets its first frame without waiting for the encoder to start again (join time).
      const active = index === 0 || (encoding.rid ? rids.includes(encoding.rid) : true);
      if (encoding.active !== active) changed = true;
      encoding.active = active;
    }
    if (changed) await sender.setParameters(parameters);
  }

  get streamIds(): string[] {
    return this.tracks.flatMap((t) => (t.streamId ? [t.streamId] : []));
  }

  /** A muted local preview of what is published; created on first use unless one is given. */
  attach(element?: HTMLVideoElement): HTMLVideoElement {
    const video = element ?? this.#element ?? document.createElement('video');
    video.muted = true;
    video.autoplay = true;
    video.playsInline = true;
    video.srcObject = new MediaStream(this.tracks.filter((t) => t.kind === 'video').map((t) => t.track));
    this.#element = video;
    return video;
  }

  get element(): HTMLVideoElement | null {
    return this.#element;
  }

  /** Microphone on or off. Off sends silence: the stream stays, nobody renegotiates. */
  publishAudio(enabled: boolean): void {
    for (const t of this.tracks) if (t.source === 'microphone') t.track.enabled = enabled;
  }

  /** Camera on or off. Off sends black frames. */
  publishVideo(enabled: boolean): void {
    for (const t of this.tracks) if (t.source === 'camera') t.track.enabled = enabled;
  }

  get audioEnabled(): boolean {
    return this.tracks.some((t) => t.source === 'microphone' && t.track.enabled);
  }

  get videoEnabled(): boolean {
    return this.tracks.some((t) => t.source === 'camera' && t.track.enabled);
  }

  /** Stops publishing: the server's streams end (others get streamDestroyed), captured devices are released. */
  async unpublish(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    await Promise.all(this.tracks.map((t) => this.#stopTrack(t)));
    for (const t of this.tracks) if (this.#ownsTracks.has(t.track)) t.track.stop();
    this.onDestroyed?.();
    this.emit('destroyed');
    this.removeAllListeners();
  }

  /**
   * Publishes the tracks again on new connections, as new streams. Used after a reconnection
   * the server could not resume, or when restarting a connection under its stream failed.
   */
  async republish(only?: PublishedTrack, serverStreamsGone = false): Promise<void> {
    if (this.#destroyed) return;
    const targets = only ? [only] : [...this.tracks];
    await Promise.all(
      targets.map(async (t) => {
        if (serverStreamsGone) t.streamId = null;
        await this.#stopTrack(t);
        await this.#publishTrack(t);
      }),
    );
  }

  async getStats(): Promise<
    { streamId: string | null; source: StreamSource; report: RTCStatsReport | null }[]
  > {
    return Promise.all(
      this.tracks.map(async (t) => ({
        streamId: t.streamId,
        source: t.source,
        report: t.pc ? await t.pc.getStats() : null,
      })),
    );
  }

  async #publishTrack(t: PublishedTrack): Promise<void> {
    if (this.#transport) {
      await this.#transport.start(this, t);
      this.emit('published', t);
      return;
    }
    await this.#connect(t, (sdp) =>
      this.#port.request('publish', { source: t.source, kind: t.kind, name: this.name, sdp }),
    );
    this.emit('published', t);
  }

  /**
   * Opens the track's connection to the SFU: offers it through `negotiate` (a new publication,
   * or a restart of an existing stream), applies the answer and trickles our candidates.
   */
  async #connect(
    t: PublishedTrack,
    negotiate: (offerSdp: string) => Promise<{ streamId: string; sdp: string }>,
  ): Promise<void> {
    const pc = new RTCPeerConnection(this.#port.rtcConfiguration());
    t.pc = pc;
    const early: RTCIceCandidate[] = [];
    pc.addEventListener('icecandidate', (event) => {
      if (t.pc !== pc) return;
      if (t.streamId) this.#sendCandidate(t.streamId, event.candidate);
      else if (event.candidate) early.push(event.candidate);
    });
    watchConnectionPath(pc, () => this.#onPathDead(t, pc));
    // One media section per connection whatever the layers: the server receives every layer
    // (and RTX) on that one section and tells layers apart by their rid.
    const sendEncodings = simulcastEncodings(t.source, this.#simulcast);
    const transceiver = pc.addTransceiver(t.track, {
      direction: 'sendonly',
      streams: [this.mediaStream],
      ...(sendEncodings ? { sendEncodings } : {}),
    });
    if (t.kind === 'video' && this.#videoCodec) preferVideoCodec(transceiver, this.#videoCodec);
    this.#port.protection?.protectSender(transceiver.sender, t.kind);
    try {
      await pc.setLocalDescription(await pc.createOffer());
      const reply = await negotiate(pc.localDescription?.sdp ?? '');
      t.streamId = reply.streamId;
      await pc.setRemoteDescription({ type: 'answer', sdp: reply.sdp });
    } catch (error) {
      pc.close();
      if (t.pc === pc) t.pc = null;
      throw toClientError('webrtc_failed', error, `Could not publish the ${t.source}`);
    }
    for (const candidate of early.splice(0)) this.#sendCandidate(t.streamId, candidate);
  }

  #sendCandidate(streamId: string, candidate: RTCIceCandidate | null): void {
    const wire = candidateToWire(candidate);
    if (wire) this.#port.send({ type: 'candidate', target: streamId, candidate: wire });
  }

  /**
   * The network changed under us (new interface, NAT rebinding): rebuild the connection under
   * the same stream (`restartIce`), so subscribers keep it without noticing. If the server
   * already ended the stream, publish the track afresh.
   */
  #onPathDead(t: PublishedTrack, pc: RTCPeerConnection): void {
    if (t.pc !== pc || this.#destroyed) return;
    const streamId = t.streamId;
    // The old connection closes only once the new one is answered: were the path alive after
    // all, its orderly close would reach the SFU first and end the stream.
    const restart = streamId
      ? this.#connect(t, (sdp) =>
          this.#port
            .request('restartIce', { target: streamId, sdp })
            .then((reply) => ({ streamId, sdp: reply.sdp ?? '' })),
        )
      : Promise.reject(new Error('not published yet'));
    restart
      .finally(() => pc.close())
      .then(() => this.emit('restarted', t))
      .catch(() => this.republish(t))
      .catch((error) => console.warn('[conclave] republish failed', error));
  }

  async #stopTrack(t: PublishedTrack): Promise<void> {
    if (this.#transport) return this.#transport.stop(t);
    const { pc, streamId } = t;
    t.pc = null;
    pc?.close();
    if (!streamId) return;
    t.streamId = null;
    await this.#port.request('unpublish', { streamId }).catch(() => {
      // Already gone on the server (connection dropped, stream failed): nothing to undo.
    });
  }
}

/**
 * Puts `codec` first in the transceiver's offer, the others (RTX among them) after it as
 * fallbacks: the SFU takes the first codec it can forward in the offer's order.
 */
function preferVideoCodec(transceiver: RTCRtpTransceiver, codec: VideoCodec): void {
  const codecs = RTCRtpSender.getCapabilities?.('video')?.codecs ?? [];
  const isWanted = (c: RTCRtpCodec) => c.mimeType.toLowerCase() === `video/${codec.toLowerCase()}`;
  if (!codecs.some(isWanted) || typeof transceiver.setCodecPreferences !== 'function') return;
  transceiver.setCodecPreferences([...codecs.filter(isWanted), ...codecs.filter((c) => !isWanted(c))]);
}

async function captureTracks(
  options: PublishOptions,
): Promise<{ tracks: PublishedTrack[]; owned: Set<MediaStreamTrack> }> {
  const owned = new Set<MediaStreamTrack>();
  const tracks: PublishedTrack[] = [];
  const add = (source: StreamSource, track: MediaStreamTrack) =>
    tracks.push({
      source,
      kind: track.kind === 'audio' ? 'audio' : 'video',
      track,
      streamId: null,
      pc: null,
    });
  const wantMic = options.audio === true;
  const wantCam = options.video === true;
  try {
    if (wantMic || wantCam) {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: wantMic, video: wantCam });
      for (const track of stream.getTracks()) owned.add(track);
      const mic = stream.getAudioTracks()[0];
      const cam = stream.getVideoTracks()[0];
      if (mic) add('microphone', mic);
      if (cam) add('camera', cam);
    }
    if (options.audio instanceof MediaStreamTrack) add('microphone', options.audio);
    if (options.video instanceof MediaStreamTrack) add('camera', options.video);
    if (options.screen === true) {
      const stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
      const screen = stream.getVideoTracks()[0];
      if (screen) {
        owned.add(screen);
        add('screen', screen);
      }
    } else if (options.screen instanceof MediaStreamTrack) {
      add('screen', options.screen);
    }
  } catch (error) {
    for (const track of owned) track.stop();
    throw toClientError('media_access_failed', error, 'Could not capture the camera, microphone or screen');
  }
  return { tracks, owned };
}
