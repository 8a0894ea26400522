/**
 * join: the first message of every connection. Verifies the token (signature, lifetime,
 * session binding, revocation), the Origin allow-list of the token's application and the
 * session's rules, then either resumes the participant named in `resume` or adds a new one.
 * Nothing about the session is sent before all of that passed.
 */
import { ConclaveError } from '@conclave/protocol/errors';
import type { ClientMessageOf, ReplyResults } from '@conclave/protocol/signaling';
import { type HandlerContext, REPLIED } from '../context.ts';
import type { VerifiedToken } from '../deps.ts';
import { newConnectionId, sameSecret } from '../ids.ts';
import { OfferQueue } from '../offer-queue.ts';
import { Participant } from '../participant.ts';
import type { Room } from '../room.ts';
import { sendSubscriberOffer } from './subscribe.ts';
import { verifyForSession } from './verify.ts';

export async function join(ctx: HandlerContext, msg: ClientMessageOf<'join'>): Promise<typeof REPLIED> {
  const { gateway, connection } = ctx;
  if (connection.participant)
    throw new ConclaveError('invalid_request', 'This connection has already joined');
  const token = await verifyForSession(gateway, msg.token, msg.sessionId);
  assertOriginAllowed(gateway.deps.settings.allowedOrigins, token.apiKey, connection.origin);
  const session = await gateway.deps.control.sessions.get(token.appId, token.claims.sid);
  if (!session) throw new ConclaveError('session_not_found');
  if (session.e2ee && msg.capabilities?.e2ee !== true) throw new ConclaveError('e2ee_unsupported');

  if (connection.closed) throw new ConclaveError('invalid_request', 'The connection closed while joining');
  const room = gateway.rooms.open(token.appId, session);
  const resumed = msg.resume ? resumeParticipant(room, token, msg.resume) : null;
  const participant = resumed ?? admitParticipant(ctx, room, token);
  gateway.scheduleExpiry(room, participant);
  connection.participant = participant;
  connection.room = room;
  connection.reply<'join'>(msg.id, joinResult(ctx, room, participant, resumed !== null));
  if (resumed) {
    resumed.attach(connection);
    await resumed.offers?.resend();
  } else {
    room.add(participant);
  }
  room.sendActiveSpeakers(participant);
  return REPLIED;
}

function assertOriginAllowed(
  lists: Record<string, string[]>,
  apiKey: string,
  origin: string | undefined,
): void {
  const allowed = lists[apiKey];
  // Browsers always send Origin; a client without one is not a web page a token could leak into.
  if (!allowed || origin === undefined) return;
  if (!allowed.includes(origin)) throw new ConclaveError('origin_not_allowed');
}

function admitParticipant(ctx: HandlerContext, room: Room, token: VerifiedToken): Participant {
  if (room.participants.size >= room.capacity) throw new ConclaveError('session_full');
  const { claims } = token;
  const participant = new Participant(
    newConnectionId(),
    claims.sub,
    claims.role,
    token.grants,
    claims.data ?? '',
    claims.jti,
    claims.exp * 1000,
    ctx.connection,
  );
  participant.offers = new OfferQueue(() => sendSubscriberOffer(room, participant));
  return participant;
}

/**
 * Reattaches a dropped participant when the resume token matches and the identity is the same.
 * Returns null when the resume cannot be honoured: the join then proceeds as a new participant.
 */
function resumeParticipant(
  room: Room,
  token: VerifiedToken,
  resume: { connectionId: string; resumeToken: string },
): Participant | null {
  const participant = room.participants.get(resume.connectionId);
  if (!participant || participant.identity !== token.claims.sub) return null;
  if (!sameSecret(participant.resumeToken, resume.resumeToken) || !participant.resumable) return null;
  // The old WebSocket may still look open (a half-open TCP connection): this one replaces it.
  const previous = participant.channel;
  participant.detach();
  previous?.closeWith(4008, 'connection_replaced');
  participant.clearTimer('resume');
  participant.tokenIds.add(token.claims.jti);
  participant.tokenExpiresAt = token.claims.exp * 1000;
  return participant;
}

function joinResult(
  ctx: HandlerContext,
  room: Room,
  participant: Participant,
  resumed: boolean,
): ReplyResults['join'] {
  const others = [...room.participants.values()].filter((p) => p !== participant);
  const expiresAt = new Date(participant.tokenExpiresAt);
  return {
    connectionId: participant.connectionId,
    resumeToken: participant.resumeToken,
    resumed,
    session: { sessionId: room.sessionId, mediaMode: room.session.mediaMode, e2ee: room.session.e2ee },
    role: participant.role,
    grants: [...participant.grants],
    connections: others.map((p) => p.info),
    streams: [...room.streams.values()].map((s) => ({ ...s.info })),
    iceServers:
      ctx.gateway.deps.iceServersFor?.({
        connectionId: participant.connectionId,
        tokenExpiresAt: expiresAt,
      }) ?? [],
    tokenExpiresAt: expiresAt.toISOString(),
  };
}
