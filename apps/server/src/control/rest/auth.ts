/**
 * Authentication of partner back-ends: every REST call carries `Authorization: Bearer <JWT>`
 * signed with the application's API secret or private key. Every failure, whatever its reason,
 * gets the same 401 body (a caller learns nothing about which check failed) and an audit
 * record with the source address; the token itself is never recorded.
 */
import { ConclaveError } from '@conclave/protocol/errors';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { type ReplayCache, verifyApiToken } from '../tokens/index.ts';
import type { Actor, ApplicationService, AuditLog } from '../types.ts';
import { sendError } from './errors.ts';

/** The application a request authenticated as. */
export interface RestCaller {
  appId: string;
  apiKey: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    conclaveCaller: RestCaller | null;
  }
  interface FastifyContextConfig {
    /** Routes that answer without authentication (the OpenAPI document). */
    public?: boolean;
  }
}

export interface AuthDeps {
  apps: Pick<ApplicationService, 'verificationKeys'>;
  audit: Pick<AuditLog, 'append'>;
  tokens: { clockSkewSeconds: number };
  replay: ReplayCache;
  now?: () => number;
}

const BEARER = /^Bearer ([^\s]+)$/;
const MAX_AUDITED_PATH = 100;

export function authenticationHook(deps: AuthDeps) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (request.routeOptions.config.public) return;
    const token = BEARER.exec(request.headers.authorization ?? '')?.[1];
    try {
      if (!token) throw new ConclaveError('token_invalid');
      const verified = await verifyApiToken(token, deps);
      request.conclaveCaller = { appId: verified.appId, apiKey: verified.apiKey };
    } catch (err) {
      await recordFailure(request, deps.audit, err);
      await sendError(reply, new ConclaveError('unauthorized'));
    }
  };
}

/** The caller of an authenticated route; the hook guarantees it, so its absence is a bug. */
export function callerOf(request: FastifyRequest): RestCaller {
  if (!request.conclaveCaller) throw new Error('REST route reached without authentication');
  return request.conclaveCaller;
}

export function actorOf(request: FastifyRequest): Actor {
  return { id: `app:${callerOf(request).apiKey}`, source: request.ip };
}

async function recordFailure(request: FastifyRequest, audit: AuthDeps['audit'], err: unknown): Promise<void> {
  // The reason helps an operator tell a clock problem from an attack; it is a code, not the token.
  const reason = err instanceof ConclaveError ? err.code : 'internal';
  if (!(err instanceof ConclaveError)) request.log.error({ err }, 'REST authentication failed unexpectedly');
  try {
    await audit.append({ id: 'anonymous', source: request.ip }, 'rest.auth_failed', attemptedRoute(request), {
      reason,
    });
  } catch (auditErr) {
    request.log.error({ err: auditErr }, 'could not record a REST authentication failure');
  }
}

/** The route pattern, not the raw URL: the path and query are the caller's to fill with anything. */
function attemptedRoute(request: FastifyRequest): string {
  const route = request.routeOptions.url ?? request.url.split('?')[0]?.slice(0, MAX_AUDITED_PATH) ?? '';
  return `${request.method} ${route}`;
}
