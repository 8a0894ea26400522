/**
 * The browser-facing extras of the server:
 *   GET  /sdk/conclave.js   the browser SDK as one ES module (always; partners may load it from here)
 *   GET  /sdk/conclave-e2ee-worker.js  its end-to-end encryption worker (always; same origin as the SDK)
 *   GET  /                  the demo meeting page            (development mode only)
 *   GET  /demo.js, /demo.css its script and style             (development mode only)
 *   POST /dev/token         development token endpoint        (development mode only)
 * Outside development mode the demo routes and the token endpoint are not registered at all,
 * so they answer 404 like any unknown path.
 */
import { readFile } from 'node:fs/promises';
import { ConclaveError, type ErrorCode } from '@conclave/protocol/errors';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ControlPlane } from '../control/types.ts';
import { DEMO_ENTRY, lazyBundle, lazyE2eeWorker, SDK_ENTRY } from './bundle.ts';
import { DevTokenIssuer, parseDevTokenRequest } from './dev-tokens.ts';

export interface DemoDeps {
  config: { devMode: boolean };
  control: ControlPlane;
}

/**
 * No inline script or style anywhere: scripts and styles come from this origin only; media
 * elements play MediaStreams; the page talks to this origin only (REST and signaling).
 */
export const DEMO_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "media-src 'self' blob: mediastream:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const PUBLIC_DIR = new URL('./public/', import.meta.url);

export async function registerDemo(fastify: FastifyInstance, deps: DemoDeps): Promise<void> {
  const sdkBundle = lazyBundle(SDK_ENTRY);
  fastify.get('/sdk/conclave.js', async (_request, reply) =>
    // Partner pages on other origins load the SDK from here: the bundle is public code.
    sendScript(reply, await sdkBundle(), 'public, max-age=300').header(
      'Cross-Origin-Resource-Policy',
      'cross-origin',
    ),
  );
  // A worker script must come from the page's origin: pages on this origin use this file; pages
  // elsewhere use the copy embedded in the SDK (a Blob URL), so no cross-origin header here.
  const e2eeWorker = lazyE2eeWorker();
  fastify.get('/sdk/conclave-e2ee-worker.js', async (_request, reply) =>
    sendScript(reply, await e2eeWorker(), 'public, max-age=300'),
  );
  if (!deps.config.devMode) return;

  const demoBundle = lazyBundle(DEMO_ENTRY);
  const html = await readFile(new URL('index.html', PUBLIC_DIR), 'utf8');
  const css = await readFile(new URL('demo.css', PUBLIC_DIR), 'utf8');
  fastify.get('/', async (_request, reply) =>
    reply
      .type('text/html; charset=utf-8')
      .header('Content-Security-Policy', DEMO_CSP)
      .header('Cache-Control', 'no-store')
      // The demo needs the camera, microphone and screen of this origin and nothing else.
      .header('Permissions-Policy', 'camera=(self), microphone=(self), display-capture=(self)')
      .send(html),
  );
  fastify.get('/demo.js', async (_request, reply) => sendScript(reply, await demoBundle(), 'no-store'));
  fastify.get('/demo.css', async (_request, reply) =>
    reply.type('text/css; charset=utf-8').header('Cache-Control', 'no-store').send(css),
  );

  const issuer = new DevTokenIssuer(deps.control);
  fastify.post('/dev/token', async (request, reply) => issueDevToken(issuer, request, reply));
}

function sendScript(reply: FastifyReply, source: string, cacheControl: string): FastifyReply {
  return reply.type('text/javascript; charset=utf-8').header('Cache-Control', cacheControl).send(source);
}

async function issueDevToken(issuer: DevTokenIssuer, request: FastifyRequest, reply: FastifyReply) {
  try {
    const parsed = parseDevTokenRequest(request.body);
    const serverUrl = `${request.protocol}://${request.host}`;
    return reply.header('Cache-Control', 'no-store').send(await issuer.issue(parsed, serverUrl));
  } catch (error) {
    const conclave =
      error instanceof ConclaveError ? error : new ConclaveError('internal' satisfies ErrorCode);
    if (!(error instanceof ConclaveError)) request.log.error({ err: error }, 'development token failed');
    return reply.code(conclave.status).send(conclave.toBody());
  }
}
