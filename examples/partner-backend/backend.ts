/**
 * A partner back-end, the way Conclave is meant to be used: the API secret stays here; the
 * browser asks THIS server for a participant token, after this server has decided who the
 * user is and what they may do. Conclave never sees the partner's users, only an opaque
 * identity and the connection data chosen here (visible to everyone in the room: no personal
 * data).
 *
 * Routes:
 *   GET  /                 the partner's page (loads the browser SDK bundle from /conclave.js)
 *   GET  /app.js, /conclave.js
 *   POST /api/video-token  { room } -> { token, sessionId, conclaveUrl }   (signed-in users only)
 */

import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import { Conclave } from '@conclave/server-sdk';
import { build } from 'esbuild';

export interface PartnerBackendOptions {
  /** Where browsers reach Conclave (signaling) and this back-end reaches its REST API. */
  conclaveUrl: string;
  apiKey: string;
  apiSecret: string;
  /**
   * Who is signed in, from the partner's own session (cookie, OAuth, ...). Returns null for
   * anonymous visitors. The example trusts an `x-demo-user` header; a real back-end would not.
   */
  authenticate?: (
    request: IncomingMessage,
  ) => { userId: string; displayName: string; canPublish: boolean } | null;
}

const ROOM = /^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$/;

function demoAuthenticate(request: IncomingMessage) {
  const user = request.headers['x-demo-user'];
  if (typeof user !== 'string' || !/^[a-z0-9-]{1,32}$/.test(user)) return null;
  return { userId: user, displayName: user, canPublish: !user.startsWith('viewer') };
}

export class PartnerBackend {
  readonly #options: PartnerBackendOptions;
  readonly #conclave: Conclave;
  /** room name -> Conclave session id; a real back-end keeps this in its own database. */
  readonly #sessions = new Map<string, Promise<string>>();

  constructor(options: PartnerBackendOptions) {
    this.#options = options;
    this.#conclave = new Conclave({
      url: options.conclaveUrl,
      apiKey: options.apiKey,
      apiSecret: options.apiSecret,
    });
  }

  /** The one thing the browser needs: a short-lived token for this user in this room. */
  async videoToken(room: string, user: { userId: string; displayName: string; canPublish: boolean }) {
    const sessionId = await this.#sessionFor(room);
    const token = await this.#conclave.createToken(sessionId, {
      role: user.canPublish ? 'publisher' : 'subscriber',
      identity: user.userId,
      data: JSON.stringify({ name: user.displayName }),
      ttlSeconds: 600,
    });
    return { token, sessionId, conclaveUrl: this.#options.conclaveUrl };
  }

  #sessionFor(room: string): Promise<string> {
    const known = this.#sessions.get(room);
    if (known) return known;
    const created: Promise<string> = this.#conclave.createSession({ mediaMode: 'routed' }).then((s) => s.id);
    created.catch(() => this.#sessions.delete(room));
    this.#sessions.set(room, created);
    return created;
  }

  async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    if (request.method === 'POST' && path === '/api/video-token') return this.#tokenRoute(request, response);
    if (request.method === 'GET' && path === '/') return sendFile(response, 'index.html', 'text/html');
    if (request.method === 'GET' && path === '/app.js')
      return sendFile(response, 'app.js', 'text/javascript');
    if (request.method === 'GET' && path === '/conclave.js') return sendSdk(response);
    send(response, 404, { error: 'not found' });
  }

  async #tokenRoute(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const user = (this.#options.authenticate ?? demoAuthenticate)(request);
    if (!user) return send(response, 401, { error: 'sign in first' });
    const body = await readJson(request);
    const room = typeof body?.room === 'string' ? body.room : '';
    if (!ROOM.test(room)) return send(response, 400, { error: 'room: 1-64 letters, digits, spaces, . _ -' });
    try {
      send(response, 200, await this.videoToken(room, user));
    } catch {
      // Never pass Conclave's error (or anything about our credentials) on to the browser.
      send(response, 502, { error: 'video service unavailable' });
    }
  }
}

export function listen(backend: PartnerBackend, port: number, host = '127.0.0.1'): Promise<Server> {
  const server = createServer((req, res) => {
    backend.handle(req, res).catch(() => send(res, 500, { error: 'internal error' }));
  });
  return new Promise((resolve) => server.listen(port, host, () => resolve(server)));
}

function send(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  response.end(JSON.stringify(body));
}

const PUBLIC = new URL('./public/', import.meta.url);

async function sendFile(response: ServerResponse, name: string, type: string): Promise<void> {
  response.writeHead(200, {
    'content-type': `${type}; charset=utf-8`,
    'content-security-policy':
      "default-src 'none'; script-src 'self'; connect-src 'self' ws: wss: http: https:; media-src 'self' blob: mediastream:; style-src 'self'",
  });
  response.end(await readFile(new URL(name, PUBLIC)));
}

let sdkBundle: Promise<string> | null = null;

/** The partner hosts the SDK bundle itself (same as `node scripts/build-client.mjs`). */
async function sendSdk(response: ServerResponse): Promise<void> {
  sdkBundle ??= build({
    entryPoints: [fileURLToPath(import.meta.resolve('@conclave/client'))],
    bundle: true,
    format: 'esm',
    write: false,
    logLevel: 'silent',
  }).then((r) => r.outputFiles[0]!.text);
  response.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' });
  response.end(await sdkBundle);
}

async function readJson(request: IncomingMessage): Promise<Record<string, unknown> | null> {
  let raw = '';
  for await (const chunk of request) {
    raw += chunk;
    if (raw.length > 4096) return null;
  }
  try {
    const value: unknown = JSON.parse(raw);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
