// Runs inside Chromium, on a page served from the Conclave server's origin (a secure context).
// Drives the real SDK bundle from /sdk/conclave.js and reports what a participant would notice:
// events, decoded frames, received audio, whether the picture is black.
import * as Conclave from '/sdk/conclave.js';

const state = { session: null, publishers: [], subscribers: new Map(), events: [] };

function record(type, detail) {
  state.events.push({ type, at: performance.now(), ...detail });
}

function subscribeAll(session) {
  session.on('streamCreated', (stream) => {
    record('streamCreated', {
      streamId: stream.streamId,
      connectionId: stream.connectionId,
      source: stream.source,
    });
    const element = document.createElement(stream.kind === 'video' ? 'video' : 'audio');
    element.dataset.stream = stream.streamId;
    document.body.append(element);
    session
      .subscribe(stream, element)
      .then((subscriber) => state.subscribers.set(stream.streamId, subscriber))
      .catch((error) => record('subscribeFailed', { streamId: stream.streamId, code: error.code }));
  });
  session.on('streamDestroyed', (stream, reason) => {
    record('streamDestroyed', { streamId: stream.streamId, connectionId: stream.connectionId, reason });
    state.subscribers.delete(stream.streamId);
    document.querySelector(`[data-stream="${stream.streamId}"]`)?.remove();
  });
}

function watch(session) {
  session.on('connectionCreated', (c) =>
    record('connectionCreated', { connectionId: c.connectionId, data: c.data }),
  );
  session.on('connectionDestroyed', (c, reason) =>
    record('connectionDestroyed', { connectionId: c.connectionId, reason }),
  );
  session.on('signal', (s) => record('signal', { signalType: s.type, data: s.data, from: s.from }));
  session.on('reconnecting', () => record('reconnecting', {}));
  session.on('reconnected', (info) => record('reconnected', info));
  session.on('disconnected', (info) =>
    record('disconnected', { reason: info.reason, code: info.error?.code }),
  );
  session.on('error', (error) => record('error', { code: error.code, message: error.message }));
  session.on('decryptionFailed', (e) =>
    record('decryptionFailed', { connectionId: e.connectionId, reason: e.reason }),
  );
  session.on('activeSpeakersChanged', (speakers) => record('activeSpeakersChanged', { speakers }));
}

/** Mean brightness of the current frame, sampled through a canvas (0 = black). */
function brightness(video) {
  if (!video.videoWidth) return 0;
  const canvas = document.createElement('canvas');
  canvas.width = 64;
  canvas.height = 48;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.drawImage(video, 0, 0, 64, 48);
  const { data } = ctx.getImageData(0, 0, 64, 48);
  let sum = 0;
  for (let i = 0; i < data.length; i += 4) sum += 0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2];
  return sum / (data.length / 4);
}

function inboundRtp(report) {
  for (const stat of report?.values() ?? []) if (stat.type === 'inbound-rtp') return stat;
  return null;
}

/** A moving canvas, for a screen share when headless Chromium offers no screen to capture. */
function canvasScreenTrack(width = 640, height = 360) {
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext('2d');
  let frame = 0;
  setInterval(() => {
    frame++;
    ctx.fillStyle = '#2060c0';
    ctx.fillRect(0, 0, width, height);
    ctx.fillStyle = '#ffffff';
    ctx.fillRect((frame * 7) % (width - 40), height / 2 - 30, 40, 40);
  }, 33);
  return canvas.captureStream(30).getVideoTracks()[0];
}

window.harness = {
  Conclave,
  async join(token, options = {}) {
    const started = performance.now();
    // Fresh tokens the "partner back-end" hands out when the SDK asks before expiry.
    const { refreshTokens, ...connectOptions } = options;
    if (refreshTokens) {
      connectOptions.onTokenExpiring = async () => {
        record('tokenExpiring', {});
        const next = refreshTokens.shift();
        // null stands for the partner's back-end failing this once.
        if (next === null) throw new Error('token endpoint unreachable');
        return next;
      };
    }
    try {
      const session = await Conclave.Session.connect(location.origin, token, connectOptions);
      state.session = session;
      watch(session);
      if (options.autoSubscribe !== false) subscribeAll(session);
      return {
        connectionId: session.connectionId,
        mediaMode: session.mediaMode,
        ms: performance.now() - started,
      };
    } catch (error) {
      return { error: error.code ?? String(error) };
    }
  },
  /**
   * Join time as a participant feels it: from Session.connect to the first decoded frame of
   * a remote video (requestVideoFrameCallback fires when a frame is presented), with the phases
   * between: the stream announced, and the viewer's connection connected (ICE and DTLS done).
   */
  async measureJoin(token, options = {}) {
    const started = performance.now();
    const since = () => performance.now() - started;
    const phases = { streamCreatedMs: null, mediaConnectedMs: null };
    const Native = window.RTCPeerConnection;
    window.RTCPeerConnection = class extends Native {
      constructor(...args) {
        super(...args);
        this.addEventListener('connectionstatechange', () => {
          if (this.connectionState === 'connected') phases.mediaConnectedMs ??= since();
        });
      }
    };
    try {
      const session = await Conclave.Session.connect(location.origin, token, options);
      state.session = session;
      const connectedMs = since();
      const firstFrame = new Promise((resolve) => {
        session.on('streamCreated', (stream) => {
          if (stream.kind !== 'video') return;
          phases.streamCreatedMs ??= since();
          const video = document.createElement('video');
          document.body.append(video);
          video.requestVideoFrameCallback(() => resolve(since()));
          session.subscribe(stream, video);
        });
      });
      const timeout = new Promise((resolve) => setTimeout(() => resolve(null), 15_000));
      const firstFrameMs = await Promise.race([firstFrame, timeout]);
      return { connectedMs, firstFrameMs, ...phases };
    } finally {
      window.RTCPeerConnection = Native;
    }
  },
  async publish(options) {
    try {
      const publisher = await state.session.publish(options);
      state.publishers.push(publisher);
      publisher.on('restarted', (t) =>
        record('publisherRestarted', { streamId: t.streamId, source: t.source }),
      );
      return { streamIds: publisher.streamIds };
    } catch (error) {
      return { error: error.code ?? String(error) };
    }
  },
  async publishScreen(name) {
    try {
      const publisher = await state.session.publish({ screen: true, name });
      state.publishers.push(publisher);
      return { streamIds: publisher.streamIds, via: 'getDisplayMedia' };
    } catch (error) {
      if (error.code !== 'media_access_failed') return { error: error.code ?? String(error) };
    }
    const publisher = await state.session.publish({ screen: canvasScreenTrack(), name });
    state.publishers.push(publisher);
    return { streamIds: publisher.streamIds, via: 'canvas' };
  },
  /** A moving canvas of the given size published as the camera (default simulcast unless `options` say). */
  async publishCanvasCamera(width, height, name, options = {}) {
    try {
      const publisher = await state.session.publish({
        video: canvasScreenTrack(width, height),
        name,
        ...options,
      });
      state.publishers.push(publisher);
      return { streamIds: publisher.streamIds };
    } catch (error) {
      return { error: error.code ?? String(error) };
    }
  },
  /**
   * A steady 440 Hz tone published as the microphone, its loudness set by `gain` (a sine at gain
   * g is 20*log10(g/sqrt(2)) dBov). WebAudio, not the fake device: no echo cancellation, noise
   * suppression or gain control between the tone and the encoder, so the level is what we set.
   */
  async publishTone(gain, name) {
    try {
      const audio = new AudioContext();
      const oscillator = audio.createOscillator();
      oscillator.frequency.value = 440;
      state.toneGain = audio.createGain();
      state.toneGain.gain.value = gain;
      const destination = audio.createMediaStreamDestination();
      oscillator.connect(state.toneGain).connect(destination);
      oscillator.start();
      await audio.resume();
      const publisher = await state.session.publish({ audio: destination.stream.getAudioTracks()[0], name });
      state.publishers.push(publisher);
      return { streamIds: publisher.streamIds };
    } catch (error) {
      return { error: error.code ?? String(error) };
    }
  },
  setToneGain(gain) {
    state.toneGain.gain.value = gain;
    return gain;
  },
  async setPreferredLayer(streamId, layer) {
    try {
      await state.subscribers.get(streamId).setPreferredLayer(layer);
      return { ok: true };
    } catch (error) {
      return { error: error.code ?? String(error) };
    }
  },
  async unpublishAll() {
    for (const p of state.publishers.splice(0)) await p.unpublish();
  },
  /** Per received stream: decoded frames, packets and samples, brightness of the picture. */
  async received() {
    const out = [];
    for (const [streamId, subscriber] of state.subscribers) {
      const report = await subscriber.getStats();
      const rtp = inboundRtp(report);
      const element = subscriber.element;
      out.push({
        streamId,
        connectionId: subscriber.stream.connectionId,
        kind: subscriber.stream.kind,
        source: subscriber.stream.source,
        codec: (rtp?.codecId && report.get(rtp.codecId)?.mimeType) || null,
        framesDecoded: rtp?.framesDecoded ?? 0,
        frameWidth: rtp?.frameWidth ?? 0,
        totalFreezesDuration: rtp?.totalFreezesDuration ?? 0,
        packetsReceived: rtp?.packetsReceived ?? 0,
        totalSamplesReceived: rtp?.totalSamplesReceived ?? 0,
        brightness: element instanceof HTMLVideoElement ? brightness(element) : null,
      });
    }
    return out;
  },
  async signal(type, data, to) {
    try {
      await state.session.signal({ type, data, ...(to ? { to } : {}) });
      return { ok: true };
    } catch (error) {
      return { error: error.code ?? String(error) };
    }
  },
  events() {
    return state.events;
  },
  /** Current connection id: it changes when the SDK had to rejoin afresh. */
  connectionId() {
    return state.session?.connectionId ?? null;
  },
  sessionState() {
    return state.session?.state ?? null;
  },
  /** Closes the SDK's signaling WebSocket under it, as a network drop would. */
  dropSocket() {
    const sockets = window.__conclaveSockets ?? [];
    const open = sockets.filter((s) => s.readyState === WebSocket.OPEN);
    for (const socket of open) socket.close(3000, 'test drop');
    return open.length;
  },
  async leave() {
    await state.session?.disconnect();
  },
  /** The ICE candidate pair media uses now, on the receiving connection: who we talk to. */
  async selectedPath() {
    const { subscriber } = await state.session.getStats();
    const stats = [...(subscriber?.values() ?? [])];
    const byId = new Map(stats.map((s) => [s.id, s]));
    const transport = stats.find((s) => s.type === 'transport' && s.selectedCandidatePairId);
    const pair = transport ? byId.get(transport.selectedCandidatePairId) : null;
    if (!pair) return null;
    const local = byId.get(pair.localCandidateId);
    const remote = byId.get(pair.remoteCandidateId);
    return {
      local: { address: local?.address, port: local?.port, type: local?.candidateType },
      remote: { address: remote?.address, port: remote?.port, type: remote?.candidateType },
    };
  },
  async stats() {
    const stats = await state.session.getStats();
    const entries = (report) => (report ? [...report.values()] : []);
    return {
      publishers: stats.publishers.map((p) => ({
        streamId: p.streamId,
        source: p.source,
        stats: entries(p.report),
      })),
      subscriber: entries(stats.subscriber),
    };
  },
};
window.dispatchEvent(new Event('harness-ready'));
