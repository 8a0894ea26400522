/**
 * REST API v1, as a Fastify plugin the composition root registers:
 *
 *   await registerRestApi(fastify, { control, config, onRevoke });
 *
 * Everything under /v1 is authenticated by a per-request JWT (auth.ts), validated strictly
 * (validation.ts), answered through one error handler (errors.ts) and serialized by its
 * response schema, so no field leaves the server by accident.
 */
import { ConclaveError } from '@conclave/protocol/errors';
import type { FastifyInstance } from 'fastify';
import { ReplayCache } from '../tokens/index.ts';
import type { ControlPlane } from '../types.ts';
import { authenticationHook } from './auth.ts';
import { installErrorHandler, sendError } from './errors.ts';
import { registerOpenApi } from './openapi.ts';
import { KeyedRateLimiter } from './rate-limit.ts';
import { type RevokeHook, registerSessionRoutes } from './sessions.ts';
import { strictValidatorCompiler } from './validation.ts';

export type { RestCaller } from './auth.ts';
export { installErrorHandler } from './errors.ts';
export type { RevokeHook } from './sessions.ts';

export interface RestApiDeps {
  control: ControlPlane;
  config: {
    tokens: { clockSkewSeconds: number };
    api: { requestsPerSecond: number; requestBurst: number; authFailuresPerMinute: number };
  };
  /** Signaling's disconnect of live participants holding revoked tokens (default: none). */
  onRevoke?: RevokeHook;
  /** Clock in epoch milliseconds (tests). */
  now?: () => number;
}

export async function registerRestApi(fastify: FastifyInstance, deps: RestApiDeps): Promise<void> {
  await registerOpenApi(fastify);
  const replay = new ReplayCache();
  await fastify.register(
    async (v1) => {
      v1.setValidatorCompiler(strictValidatorCompiler());
      // JSON only: Fastify would otherwise parse text/plain into a string and answer 400, where
      // the caller needs to hear 415 (wrong Content-Type).
      v1.removeContentTypeParser('text/plain');
      installErrorHandler(v1);
      v1.setNotFoundHandler((_request, reply) => sendError(reply, new ConclaveError('not_found')));
      v1.decorateRequest('conclaveCaller', null);
      v1.addHook(
        'onRequest',
        authenticationHook({
          apps: deps.control.apps,
          audit: deps.control.audit,
          tokens: deps.config.tokens,
          replay,
          perKey: new KeyedRateLimiter(
            { perSecond: deps.config.api.requestsPerSecond, burst: deps.config.api.requestBurst },
            deps.now,
          ),
          failures: new KeyedRateLimiter(
            {
              perSecond: deps.config.api.authFailuresPerMinute / 60,
              burst: deps.config.api.authFailuresPerMinute,
            },
            deps.now,
          ),
          ...(deps.now ? { now: deps.now } : {}),
        }),
      );
      v1.get('/openapi.json', { schema: { hide: true }, config: { public: true } }, async () =>
        fastify.swagger(),
      );
      registerSessionRoutes(v1, { control: deps.control, onRevoke: deps.onRevoke ?? (async () => 0) });
    },
    { prefix: '/v1' },
  );
}
