/**
 * The dispatcher table: one handler per client message type. `join` runs before the connection
 * has a participant; every other handler gets the participant and its room.
 */
import type { ClientMessageOf, ClientMessageType, RequestType } from '@conclave/protocol/signaling';
import type { HandlerContext, HandlerOutcome, NO_REPLY, REPLIED, SessionContext } from '../context.ts';
import { candidate } from './candidate.ts';
import { join } from './join.ts';
import { leave } from './leave.ts';
import { publish } from './publish.ts';
import { refreshToken } from './refresh-token.ts';
import { relay } from './relay.ts';
import { restartIce } from './restart-ice.ts';
import { setPreferredLayer } from './set-preferred-layer.ts';
import { signal } from './signal.ts';
import { subscribe } from './subscribe.ts';
import { subscriberAnswer } from './subscriber-answer.ts';
import { unpublish } from './unpublish.ts';
import { unsubscribe } from './unsubscribe.ts';

type Outcome<T extends ClientMessageType> = T extends RequestType
  ? HandlerOutcome<T>
  : typeof REPLIED | typeof NO_REPLY;

export type SessionHandler<T extends ClientMessageType> = (
  ctx: SessionContext,
  msg: ClientMessageOf<T>,
) => Promise<Outcome<T>>;

export const joinHandler: (ctx: HandlerContext, msg: ClientMessageOf<'join'>) => Promise<unknown> = join;

export const SESSION_HANDLERS: { [T in Exclude<ClientMessageType, 'join'>]: SessionHandler<T> } = {
  publish,
  unpublish,
  subscribe,
  unsubscribe,
  setPreferredLayer,
  subscriberAnswer,
  candidate,
  signal,
  restartIce,
  refreshToken,
  relay,
  leave,
};
