/**
 * Small WebRTC helpers shared by publishers, the subscriber connection and relayed peers.
 */
import type { IceCandidate, IceServerInfo } from '@conclave/protocol/signaling';

export interface RtcSettings {
  iceServers: RTCIceServer[];
  iceTransportPolicy: RTCIceTransportPolicy;
  /** One DTLS certificate for all connections of the session, generated while signaling connects. */
  certificates?: RTCCertificate[];
}

/**
 * Generates the session's DTLS certificate. Done once, in parallel with the WebSocket opening,
 * so no peer connection pays for key generation on the path to the first frame.
 */
export async function generateCertificate(): Promise<RTCCertificate[] | undefined> {
  try {
    return [
      await RTCPeerConnection.generateCertificate({ name: 'ECDSA', namedCurve: 'P-256' } as EcKeyGenParams),
    ];
  } catch {
    return undefined;
  }
}

/** ICE servers from the join reply (TURN credentials minted for this participant) plus the page's own. */
export function rtcConfiguration(fromServer: IceServerInfo[], settings: RtcSettings): RTCConfiguration {
  const servers: RTCIceServer[] = fromServer.map((s) => ({
    urls: s.urls,
    ...(s.username === undefined ? {} : { username: s.username }),
    ...(s.credential === undefined ? {} : { credential: s.credential }),
  }));
  return {
    iceServers: [...servers, ...settings.iceServers],
    iceTransportPolicy: settings.iceTransportPolicy,
    ...(settings.certificates ? { certificates: settings.certificates } : {}),
    bundlePolicy: 'max-bundle',
    rtcpMuxPolicy: 'require',
  };
}

/** The wire form of a browser ICE candidate; null for the end-of-candidates marker. */
export function candidateToWire(candidate: RTCIceCandidate | null): IceCandidate | null {
  if (!candidate || candidate.candidate === '') return null;
  return { candidate: candidate.candidate, sdpMid: candidate.sdpMid, sdpMLineIndex: candidate.sdpMLineIndex };
}

export function candidateFromWire(candidate: IceCandidate): RTCIceCandidateInit {
  return {
    candidate: candidate.candidate,
    sdpMid: candidate.sdpMid ?? null,
    sdpMLineIndex: candidate.sdpMLineIndex ?? null,
  };
}

/** Resolves when the connection reaches `connected`; rejects when it fails or closes. */
export function whenConnected(pc: RTCPeerConnection, timeoutMs = 20_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (pc.connectionState === 'connected') done();
      else if (pc.connectionState === 'failed' || pc.connectionState === 'closed') done(pc.connectionState);
    };
    const timer = setTimeout(() => done('timeout'), timeoutMs);
    const done = (failure?: string) => {
      clearTimeout(timer);
      pc.removeEventListener('connectionstatechange', check);
      if (failure) reject(new Error(`peer connection ${failure}`));
      else resolve();
    };
    pc.addEventListener('connectionstatechange', check);
    check();
  });
}

/**
 * How long a connection may stay `disconnected` before we treat its network path as dead.
 * Chromium reports `disconnected` a few seconds after packets stop and `failed` only much later;
 * after a network change the old path never comes back, so waiting for `failed` would leave the
 * picture frozen for tens of seconds. Short glitches recover by themselves within this grace.
 */
export const ICE_DISCONNECTED_GRACE_MS = 3_000;

/**
 * Calls `onDead` once the connection fails, or stays disconnected past the grace period (a
 * network change). Returns a function that stops watching.
 */
export function watchConnectionPath(pc: RTCPeerConnection, onDead: () => void): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stop = () => {
    clearTimeout(timer);
    pc.removeEventListener('connectionstatechange', check);
  };
  const dead = () => {
    stop();
    onDead();
  };
  function check(): void {
    const state = pc.connectionState;
    if (state === 'failed') dead();
    else if (state === 'closed') stop();
    else if (state !== 'disconnected') {
      clearTimeout(timer);
      timer = undefined;
    } else if (timer === undefined) {
      timer = setTimeout(dead, ICE_DISCONNECTED_GRACE_MS);
    }
  }
  pc.addEventListener('connectionstatechange', check);
  return stop;
}
