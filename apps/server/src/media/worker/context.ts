/**
 * What every object in a worker shares: its ICE port and address, options, and the event sink
 * back to the main process.
 */

import { ConclaveError } from '@conclave/protocol/errors';
import nodeDataChannel, { type PeerConnection } from 'node-datachannel';
import type { WorkerEvent } from '../rpc.ts';
import { announceAddress } from '../sdp.ts';
import { guard } from './guard.ts';
import type { TiebreakerRelay } from './tiebreaker-relay.ts';

export interface WorkerContext {
  bindAddress: string;
  /** The ICE UDP mux port of this worker (all connections share it). */
  port: number;
  announcedAddress: string | undefined;
  preferAes256Gcm: boolean;
  pliThrottleMs: number;
  /** RTP bits per second accepted from one publisher connection; 0: no limit. */
  maxPublishBitrate: number;
  emit(event: WorkerEvent): void;
  /** Claims the SRTP profile most recently reported by libdatachannel's log (see srtp-profile.ts). */
  claimSrtpProfile(assign: (profile: string) => void): void;
  /** Relays checks libjuice would refuse (browsers on TURN over TCP/TLS, see tiebreaker-relay.ts). */
  tiebreakerRelay?: TiebreakerRelay;
}

/**
 * A connection on the worker's shared UDP port. Negotiation is driven explicitly (auto
 * negotiation off) so the SFU decides when offers and answers are made.
 */
export function createPeerConnection(ctx: WorkerContext, name: string): PeerConnection {
  return new nodeDataChannel.PeerConnection(name, {
    iceServers: [],
    bindAddress: ctx.bindAddress,
    enableIceUdpMux: true,
    portRangeBegin: ctx.port,
    portRangeEnd: ctx.port,
    disableAutoNegotiation: true,
  });
}

/**
 * Waits until ICE gathering is complete so the description carries the server's candidates (the
 * server does not trickle), then returns it with the announced address applied.
 */
export async function completeLocalDescription(
  ctx: WorkerContext,
  pc: PeerConnection,
  gatheringDone: Promise<void>,
): Promise<string> {
  if (pc.gatheringState() !== 'complete') {
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(
        () => reject(new ConclaveError('media_unavailable', 'ICE gathering timed out')),
        5000,
      ).unref(),
    );
    await Promise.race([gatheringDone, timeout]);
  }
  const native = pc.localDescription()?.sdp;
  if (!native) throw new ConclaveError('internal', 'No local description');
  const sdp = ctx.tiebreakerRelay?.advertise(native) ?? native;
  return ctx.announcedAddress ? announceAddress(sdp, ctx.announcedAddress) : sdp;
}

/** A promise resolved when the connection's gathering completes (one callback per connection). */
export function watchGathering(pc: PeerConnection): { done: Promise<void> } {
  let resolve: () => void = () => {};
  const done = new Promise<void>((r) => {
    resolve = r;
  });
  pc.onGatheringStateChange(
    guard('gatheringstatechange', (state: string) => {
      if (state === 'complete') resolve();
    }),
  );
  return { done };
}

/** libdatachannel throws plain errors on bad SDP; callers see sdp_invalid, never a native message. */
export function applyRemoteDescription(pc: PeerConnection, sdp: string, type: 'offer' | 'answer'): void {
  try {
    pc.setRemoteDescription(sdp, type);
  } catch {
    throw new ConclaveError('sdp_invalid', 'The session description was refused by the media engine');
  }
}
