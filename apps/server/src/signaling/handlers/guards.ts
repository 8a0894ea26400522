/** Preconditions several handlers share. */
import { ConclaveError } from '@conclave/protocol/errors';
import type { Grant } from '@conclave/protocol/tokens';
import type { Participant } from '../participant.ts';
import type { Room } from '../room.ts';

const GRANT_ERRORS = {
  publish: 'publish_not_allowed',
  subscribe: 'subscribe_not_allowed',
  publishData: 'data_not_allowed',
  moderate: 'moderate_not_allowed',
} as const;

export function requireGrant(participant: Participant, grant: Grant): void {
  if (!participant.grants.has(grant)) throw new ConclaveError(GRANT_ERRORS[grant]);
}

/** Publish and subscribe go through the SFU, which relayed sessions do not use. */
export function requireRouted(room: Room): void {
  if (room.relayed) {
    throw new ConclaveError(
      'invalid_request',
      'This session is relayed: media flows peer to peer, exchange offers with `relay`',
    );
  }
}

/** False once the participant left or was removed while a handler was waiting on the media plane. */
export function stillPresent(room: Room, participant: Participant): boolean {
  return room.participants.get(participant.connectionId) === participant;
}

/** Cheap shape check before an SDP reaches the media worker. */
export function requireSdp(sdp: string, mediaSections?: number): void {
  const sections = sdp.match(/^m=/gm)?.length ?? 0;
  const wellFormed = sdp.startsWith('v=0') && sections > 0;
  if (!wellFormed || (mediaSections !== undefined && sections !== mediaSections)) {
    throw new ConclaveError(
      'sdp_invalid',
      mediaSections === 1 && wellFormed ? 'A publish offer must have exactly one media section' : undefined,
    );
  }
}

/** Errors from the media plane about a description become sdp_invalid; ConclaveErrors pass. */
export function asSdpError(err: unknown): Error {
  if (err instanceof ConclaveError) return err;
  return new ConclaveError('sdp_invalid');
}
