/** What a message handler works with. */
import type { ReplyResults, RequestType } from '@conclave/protocol/signaling';
import type { SignalingDeps } from './deps.ts';
import type { Channel, Participant } from './participant.ts';
import type { Room } from './room.ts';
import type { Rooms } from './rooms.ts';

/** Returned by a handler that already sent its reply itself (join orders reply before events). */
export const REPLIED = Symbol('replied');
/** Returned by handlers of messages that get no reply. */
export const NO_REPLY = Symbol('no reply');

export type HandlerOutcome<T extends RequestType> = ReplyResults[T] | typeof REPLIED | typeof NO_REPLY;

/** The WebSocket side of a connection, as handlers see it. */
export interface ConnectionHandle extends Channel {
  readonly origin: string | undefined;
  /** The WebSocket closed (a join that finishes after that must not admit anyone). */
  readonly closed: boolean;
  participant: Participant | null;
  room: Room | null;
  reply<T extends RequestType>(id: number | undefined, result: ReplyResults[T]): void;
  /** The participant leaves on purpose: the WebSocket closing next is not a drop. */
  markLeaving(): void;
}

export interface GatewayContext {
  deps: SignalingDeps;
  rooms: Rooms;
  now(): number;
  /** Puts the participant's token expiry into effect (tokenExpiring, then close at expiry). */
  scheduleExpiry(room: Room, participant: Participant): void;
}

export interface HandlerContext {
  gateway: GatewayContext;
  connection: ConnectionHandle;
}

/** Context of every handler but join: the connection has joined. */
export interface SessionContext extends HandlerContext {
  participant: Participant;
  room: Room;
}
