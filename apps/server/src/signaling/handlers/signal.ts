/** signal: a small message to some connections of the session, or everyone else. */
import { ConclaveError } from '@conclave/protocol/errors';
import type { ClientMessageOf, ReplyResults } from '@conclave/protocol/signaling';
import { NO_REPLY, type SessionContext } from '../context.ts';
import type { Participant } from '../participant.ts';
import type { Room } from '../room.ts';
import { requireGrant } from './guards.ts';

export async function signal(
  ctx: SessionContext,
  msg: ClientMessageOf<'signal'>,
): Promise<ReplyResults['signal'] | typeof NO_REPLY> {
  requireGrant(ctx.participant, 'publishData');
  const recipients = recipientsOf(ctx.room, msg.to, ctx.participant);
  for (const recipient of recipients) {
    recipient.send({
      type: 'signal',
      from: ctx.participant.connectionId,
      signalType: msg.signalType,
      data: msg.data,
    });
  }
  return msg.id === undefined ? NO_REPLY : {};
}

/** All named connections must be in the session: a partial delivery would be silent data loss. */
export function recipientsOf(room: Room, to: string[] | undefined, sender?: Participant): Participant[] {
  if (!to) return [...room.participants.values()].filter((p) => p !== sender);
  const recipients = [...new Set(to)].map((id) => room.participants.get(id));
  if (recipients.some((p) => p === undefined)) {
    throw new ConclaveError('not_found', 'A recipient is not connected to this session');
  }
  return recipients as Participant[];
}
