/** Pieces both transport kinds share. */

import { ConclaveError } from '@conclave/protocol/errors';
import type { PeerConnection } from 'node-datachannel';
import type { IceCandidateInit, TransportStats } from '../api.ts';

/**
 * Why a transport closed: the caller asked ('caller'), its connection failed or closed from the
 * other side ('failed'), or its router went away ('router'). Only closes the caller did not ask
 * for are reported back as events.
 */
export type CloseReason = 'caller' | 'failed' | 'router';

export function addCandidate(pc: PeerConnection, candidate: IceCandidateInit): void {
  if (typeof candidate?.candidate !== 'string' || candidate.candidate.length > 1024) {
    throw new ConclaveError('invalid_request', 'The ICE candidate is not valid');
  }
  // An empty candidate is the end-of-candidates marker: nothing to add.
  if (candidate.candidate === '') return;
  // The browser's TURN relay address is learnt from its own checks instead (peer-reflexive):
  // checked early from here, a relay over TURN/TCP could win nomination on a path the browser
  // cannot use (tiebreaker-relay.ts).
  if (/ typ relay(?: |$)/.test(candidate.candidate)) return;
  const mid = candidate.sdpMid ?? pc.remoteDescription()?.sdp.match(/^a=mid:(\S+)/m)?.[1] ?? '0';
  try {
    pc.addRemoteCandidate(candidate.candidate, mid);
  } catch {
    throw new ConclaveError('invalid_request', 'The ICE candidate is not valid');
  }
}

/** libdatachannel has no separate DTLS state: 'connected' means ICE and DTLS are both up. */
function dtlsStateOf(state: string): string {
  if (state === 'connected') return 'connected';
  if (state === 'failed' || state === 'closed') return state;
  return 'connecting';
}

/**
 * Counters come from the SFU's own accounting of RTP payload bytes: libdatachannel's
 * bytesSent/bytesReceived only count data-channel traffic, so they read 0 for media.
 */
export function baseStats(
  transportId: string,
  pc: PeerConnection,
  srtpProfile: string | null,
  media: { packetsReceived: number; packetsSent: number; bytesReceived: number; bytesSent: number },
): TransportStats {
  let iceState = 'closed';
  let state = 'closed';
  let bytesReceived = 0;
  let bytesSent = 0;
  try {
    iceState = pc.iceState();
    state = pc.state();
    bytesReceived = pc.bytesReceived();
    bytesSent = pc.bytesSent();
  } catch {
    // a closed connection throws on every getter
  }
  return {
    transportId,
    iceState,
    dtlsState: dtlsStateOf(state),
    srtpProfile,
    bytesReceived: bytesReceived + media.bytesReceived,
    bytesSent: bytesSent + media.bytesSent,
    packetsReceived: media.packetsReceived,
    packetsSent: media.packetsSent,
  };
}
