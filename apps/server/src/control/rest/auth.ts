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
import type { KeyedRateLimiter } from './rate-limit.ts';

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
  /** Requests per API key, after authentication. */
  perKey: KeyedRateLimiter;
  /** Failed authentications per source address: bounds guessing and audit-log flooding. */
  failures: KeyedRateLimiter;
  now?: () => number;
}

const BEARER = /^Bearer ([^\s]+)$/;
const MAX_AUDITED_PATH = 100;

export function authenticationHook(deps: AuthDeps) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (request.routeOptions.config.public) return;
    const blockedMs = deps.failures.waitFor(request.ip);
    if (blockedMs > 0) return sendRateLimited(reply, blockedMs);
    const token = BEARER.exec(request.headers.authorization ?? '')?.[1];
    let caller: RestCaller;
    try {
      if (!token) throw new ConclaveError('token_invalid');
      const verified = await verifyApiToken(token, deps);
      caller = { appId: verified.appId, apiKey: verified.apiKey };
    } catch (err) {
      deps.failures.take(request.ip);
      await recordFailure(request, deps.audit, err);
      await sendError(reply, new ConclaveError('unauthorized'));
      return;
    }
    const waitMs = deps.perKey.take(caller.apiKey);
    if (waitMs > 0) return sendRateLimited(reply, waitMs);
    request.conclaveCaller = caller;
  };
}

async function sendRateLimited(reply: FastifyReply, waitMs: number): Promise<void> {
  reply.header('Retry-After', String(Math.max(1, Math.ceil(waitMs / 1000))));
  await sendError(reply, new ConclaveError('rate_limited'));
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
