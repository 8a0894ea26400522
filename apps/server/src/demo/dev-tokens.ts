/**
 * DEVELOPMENT ONLY. Mints participant tokens for the demo page, the way a partner back-end
 * would: an application named `development` (found or created through the control plane), a
 * session per room name in it, a token minted locally with @conclave/server-sdk. This module is
 * only ever registered when config.devMode is true; outside development mode the route does
 * not exist at all.
 */
import { randomUUID } from 'node:crypto';
import { ConclaveError } from '@conclave/protocol/errors';
import type { Session } from '@conclave/protocol/rest';
import { Conclave } from '@conclave/server-sdk';
import type { Actor, ControlPlane } from '../control/types.ts';

export const DEV_APP_NAME = 'development';
const DEV_ACTOR: Actor = { id: 'system', source: 'local' };
const ROOM_PATTERN = /^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$/;
const MAX_DISPLAY_NAME = 64;
const DEV_TOKEN_TTL_SECONDS = 600;
const DEV_IDENTITY = /^dev-[0-9a-f-]{36}$/;

export interface DevTokenRequest {
  room: string;
  name: string;
  role: 'publisher' | 'subscriber';
  mediaMode: 'routed' | 'relayed';
  /** Set when the page refreshes its token: the same participant identity again. */
  identity: string | null;
}

export interface DevToken {
  token: string;
  sessionId: string;
  identity: string;
  expiresInSeconds: number;
}

/** Checks the untrusted body; throws invalid_request naming the field. */
export function parseDevTokenRequest(body: unknown): DevTokenRequest {
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const room = typeof b.room === 'string' ? b.room.trim() : '';
  const name = typeof b.name === 'string' ? b.name.trim() : '';
  if (!ROOM_PATTERN.test(room)) {
    throw new ConclaveError(
      'invalid_request',
      'room: 1-64 letters, digits, spaces, dots, dashes, underscores',
    );
  }
  if (name.length === 0 || name.length > MAX_DISPLAY_NAME) {
    throw new ConclaveError('invalid_request', `name: 1-${MAX_DISPLAY_NAME} characters`);
  }
  const role = b.role === 'subscriber' ? 'subscriber' : 'publisher';
  const mediaMode = b.mediaMode === 'relayed' ? 'relayed' : 'routed';
  const identity = typeof b.identity === 'string' && DEV_IDENTITY.test(b.identity) ? b.identity : null;
  return { room, name, role, mediaMode, identity };
}

export class DevTokenIssuer {
  readonly #control: ControlPlane;
  #app: Promise<{ appId: string; apiKey: string }> | null = null;

  constructor(control: ControlPlane) {
    this.#control = control;
  }

  async issue(request: DevTokenRequest, serverUrl: string): Promise<DevToken> {
    const app = await this.#developmentApp();
    const keys = await this.#control.apps.verificationKeys(app.apiKey);
    const apiSecret = keys?.secrets[0];
    if (!apiSecret) throw new ConclaveError('internal', 'The development application has no secret');
    const session = await this.#sessionFor(app.appId, request);
    const sdk = new Conclave({ url: serverUrl, apiKey: app.apiKey, apiSecret: apiSecret.toString('utf8') });
    const identity = request.identity ?? `dev-${randomUUID()}`;
    const token = await sdk.createToken(session.id, {
      role: request.role,
      identity,
      // Connection data is visible to everyone in the room: a display name, nothing more.
      data: JSON.stringify({ name: request.name }),
      ttlSeconds: DEV_TOKEN_TTL_SECONDS,
    });
    return { token, sessionId: session.id, identity, expiresInSeconds: DEV_TOKEN_TTL_SECONDS };
  }

  #developmentApp(): Promise<{ appId: string; apiKey: string }> {
    this.#app ??= this.#findOrCreateApp().catch((error: unknown) => {
      this.#app = null;
      throw error;
    });
    return this.#app;
  }

  async #findOrCreateApp(): Promise<{ appId: string; apiKey: string }> {
    const existing = await this.#control.apps.find(DEV_APP_NAME);
    if (existing) return existing;
    const created = await this.#control.apps.create(DEV_APP_NAME, DEV_ACTOR);
    return { appId: created.appId, apiKey: created.apiKey };
  }

  /** The room's session: found by name in the development application, created on first use. */
  async #sessionFor(appId: string, request: DevTokenRequest): Promise<Session> {
    const sessionName = request.mediaMode === 'relayed' ? `${request.room}.relayed` : request.room;
    const found = await this.#control.sessions.list(appId, { name: sessionName, limit: 1 });
    const first = found.sessions[0];
    if (first) return first;
    try {
      return await this.#control.sessions.create(
        appId,
        { name: sessionName, mediaMode: request.mediaMode },
        DEV_ACTOR,
      );
    } catch (error) {
      // Two tabs asked for the same new room at once: the other one created it.
      if (!(error instanceof ConclaveError) || error.code !== 'conflict') throw error;
      const again = await this.#control.sessions.list(appId, { name: sessionName, limit: 1 });
      if (!again.sessions[0]) throw error;
      return again.sessions[0];
    }
  }
}
