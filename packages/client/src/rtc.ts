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
