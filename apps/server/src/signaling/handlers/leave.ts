/** leave: the participant goes for good (no resume); its streams end, then the WebSocket closes. */
import type { ClientMessageOf } from '@conclave/protocol/signaling';
import { REPLIED, type SessionContext } from '../context.ts';

export async function leave(ctx: SessionContext, msg: ClientMessageOf<'leave'>): Promise<typeof REPLIED> {
  ctx.connection.markLeaving();
  ctx.room.remove(ctx.participant, 'left');
  ctx.connection.reply<'leave'>(msg.id, {});
  ctx.connection.closeWith(1000, 'left');
  return REPLIED;
}
