/**
 * The signaling gateway: takes WebSocket upgrades at /v1/rtc, runs one Connection per socket,
 * keeps the rooms, and exposes what the REST side needs (disconnect revoked participants,
 * send server signals).
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { ConclaveError, closeCodeOf } from '@conclave/protocol/errors';
import { SIGNALING_PATH } from '@conclave/protocol/signaling';
import { WebSocketServer } from 'ws';
import { Connection } from './connection.ts';
import type { GatewayContext } from './context.ts';
import type { SignalingDeps } from './deps.ts';
import { recipientsOf } from './handlers/signal.ts';
import type { Participant } from './participant.ts';
import type { Room } from './room.ts';
import { Rooms } from './rooms.ts';

/** Query parameters a client might put a token in: refused so tokens never reach access logs. */
const TOKEN_QUERY_PARAMS = ['token', 'access_token', 'jwt'];
const SHUTDOWN_GRACE_MS = 500;

export interface SignalingGateway {
  /** Closes matching connections of the session at once (close 4003); returns how many. */
  disconnect(sessionId: string, target: { jti?: string; identity?: string }): number;
  /** A signal from the server (`from: null`) to some connections or everyone; returns how many. */
  sendSignal(sessionId: string, signal: { to?: string[]; signalType: string; data: string }): number;
  stats(): { connections: number; rooms: number; participants: number };
  close(): Promise<void>;
}

export function createSignalingGateway(deps: SignalingDeps): SignalingGateway {
  const { settings, log } = deps;
  const now = deps.now ?? Date.now;
  const rooms = new Rooms(deps.media, log);
  const connections = new Set<Connection>();
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: settings.maxMessageBytes,
    // Compression of attacker-chosen text next to secrets invites CRIME-style leaks, and costs CPU.
    perMessageDeflate: false,
  });
  let closing = false;

  const gateway: GatewayContext = {
    deps,
    rooms,
    now,
    scheduleExpiry: (room, participant) => scheduleExpiry(room, participant),
  };

  function scheduleExpiry(room: Room, participant: Participant): void {
    const expiresAt = participant.tokenExpiresAt;
    const untilExpiry = expiresAt - now();
    participant.setTimer('warn', untilExpiry - settings.tokenRefreshLeadMs, () =>
      participant.send({ type: 'tokenExpiring', expiresAt: new Date(expiresAt).toISOString() }),
    );
    participant.setTimer('expire', untilExpiry, () =>
      endParticipant(room, participant, 'token_expired', 'expired'),
    );
  }

  /** Removes a participant for a reason of the session's own (expiry, revocation) and closes its socket. */
  function endParticipant(
    room: Room,
    participant: Participant,
    code: 'token_expired' | 'token_revoked',
    reason: 'expired' | 'kicked',
  ): void {
    const channel = participant.channel;
    channel?.send({ type: 'error', error: new ConclaveError(code).toBody().error });
    room.remove(participant, reason);
    channel?.closeWith(closeCodeOf(code) ?? 4001, code);
    log.info(
      { sessionId: room.sessionId, connectionId: participant.connectionId, reason },
      'participant removed',
    );
  }

  function onClosed(connection: Connection): void {
    connections.delete(connection);
    const { participant, room } = connection;
    if (!participant || !room || participant.channel !== connection) return;
    if (room.participants.get(participant.connectionId) !== participant || connection.isLeaving) return;
    // A drop, not a leave: keep the participant, its streams and subscriptions for a resume.
    participant.detach();
    if (closing || settings.resumeWindowMs === 0) {
      room.remove(participant, 'dropped');
      return;
    }
    participant.setTimer('resume', settings.resumeWindowMs, () => room.remove(participant, 'dropped'));
  }

  function onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== SIGNALING_PATH) return false;
    if (closing) refuseUpgrade(socket, 503, 'Service Unavailable');
    else if (TOKEN_QUERY_PARAMS.some((name) => url.searchParams.has(name))) {
      // Never accepted: the URL ends up in proxy and access logs. The token goes in `join`.
      refuseUpgrade(socket, 400, 'Bad Request');
    } else acceptUpgrade(req, socket, head);
    return true;
  }

  function acceptUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    wss.handleUpgrade(req, socket, head, (ws) => {
      const connection = new Connection(ws, originOf(req), gateway, { onClosed });
      connections.add(connection);
    });
  }

  const pinger = setInterval(() => {
    const silentFor = 2 * settings.pingIntervalMs;
    for (const connection of connections) {
      if (now() - connection.lastSeen > silentFor) connection.terminate();
      else connection.ping();
    }
  }, settings.pingIntervalMs);
  pinger.unref();

  deps.http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (onUpgrade(req, socket, head)) return;
    // Another plane may take upgrades on its own path; answer 404 only if nobody else listens.
    if (deps.http.listenerCount('upgrade') === 1) refuseUpgrade(socket, 404, 'Not Found');
  });

  return {
    disconnect(sessionId, target) {
      const room = rooms.get(sessionId);
      if (!room || (target.jti === undefined && target.identity === undefined)) return 0;
      const matching = [...room.participants.values()].filter(
        (p) =>
          (target.jti !== undefined && p.tokenIds.has(target.jti)) ||
          (target.identity !== undefined && p.identity === target.identity),
      );
      for (const participant of matching) endParticipant(room, participant, 'token_revoked', 'kicked');
      return matching.length;
    },
    sendSignal(sessionId, signal) {
      const room = rooms.get(sessionId);
      if (!room) return 0;
      const recipients = recipientsOf(room, signal.to);
      for (const recipient of recipients) {
        recipient.send({ type: 'signal', from: null, signalType: signal.signalType, data: signal.data });
      }
      return recipients.length;
    },
    stats() {
      let participants = 0;
      for (const connection of connections) if (connection.participant) participants += 1;
      return { connections: connections.size, rooms: rooms.size, participants };
    },
    async close() {
      if (closing) return;
      closing = true;
      clearInterval(pinger);
      for (const connection of connections) connection.closeWith(1001, 'server_shutdown');
      rooms.closeAll();
      await waitUntil(() => connections.size === 0, SHUTDOWN_GRACE_MS);
      for (const connection of connections) connection.terminate();
      wss.close();
    },
  };
}

function originOf(req: IncomingMessage): string | undefined {
  const origin = req.headers.origin;
  return typeof origin === 'string' ? origin : undefined;
}

function refuseUpgrade(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

async function waitUntil(done: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
}
