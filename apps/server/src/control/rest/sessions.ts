/** Session routes of REST API v1: create, read, list, and revoke participant tokens. */
import { ConclaveError } from '@conclave/protocol/errors';
import {
  CreateSessionRequest,
  ListSessionsQuery,
  RevokeTokensRequest,
  RevokeTokensResponse,
  Session,
  SessionIdParams,
  SessionList,
} from '@conclave/protocol/rest';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ControlPlane } from '../types.ts';
import { actorOf, callerOf } from './auth.ts';
import { described, errorResponses } from './schemas.ts';

/** Lets signaling close live connections of revoked tokens; resolves with how many it closed. */
export type RevokeHook = (
  sessionId: string,
  appId: string,
  target: { jti?: string; identity?: string },
) => Promise<number>;

export interface SessionRoutesDeps {
  control: Pick<ControlPlane, 'sessions' | 'revocations'>;
  onRevoke: RevokeHook;
}

const TAGS = ['sessions'];

export function registerSessionRoutes(fastify: FastifyInstance, deps: SessionRoutesDeps): void {
  const api = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { sessions, revocations } = deps.control;

  api.post(
    '/sessions',
    {
      schema: {
        operationId: 'createSession',
        summary: 'Create a session',
        tags: TAGS,
        body: CreateSessionRequest,
        response: { 201: described(Session, 'The new session'), ...errorResponses(400, 409, 413, 415) },
      },
      // Every option has a default, so an empty POST is a valid request.
      preValidation: async (request) => {
        request.body ??= {};
      },
    },
    async (request, reply) => {
      const session = await sessions.create(callerOf(request).appId, request.body, actorOf(request));
      return reply.code(201).send(session);
    },
  );

  api.get(
    '/sessions/:id',
    {
      schema: {
        operationId: 'getSession',
        summary: 'Read a session of this application',
        tags: TAGS,
        params: SessionIdParams,
        response: { 200: described(Session, 'The session'), ...errorResponses(400, 404) },
      },
    },
    async (request) => {
      const session = await sessions.get(callerOf(request).appId, request.params.id);
      // Another application's session and a session that never existed look the same.
      if (!session) throw new ConclaveError('session_not_found');
      return session;
    },
  );

  api.get(
    '/sessions',
    {
      schema: {
        operationId: 'listSessions',
        summary: 'List sessions of this application, oldest first, by pages',
        tags: TAGS,
        querystring: ListSessionsQuery,
        response: {
          200: described(SessionList, 'One page of sessions; nextCursor is null on the last page'),
          ...errorResponses(400),
        },
      },
    },
    async (request) => sessions.list(callerOf(request).appId, request.query),
  );

  api.post(
    '/sessions/:id/tokens/revoke',
    {
      schema: {
        operationId: 'revokeTokens',
        summary: 'Revoke participant tokens by jti or by participant identity',
        description:
          'Revoked tokens are refused from now on; participants connected with them are disconnected at once.',
        tags: TAGS,
        params: SessionIdParams,
        body: RevokeTokensRequest,
        response: {
          200: described(RevokeTokensResponse, 'Stored; live connections closed'),
          ...errorResponses(400, 404, 413, 415),
        },
      },
    },
    async (request) => {
      const { appId } = callerOf(request);
      const target = revokeTarget(request.body);
      await revocations.revoke(appId, request.params.id, target, actorOf(request));
      const disconnected = await disconnectRevoked(deps.onRevoke, request, request.params.id, appId, target);
      return { revoked: true, disconnected };
    },
  );
}

/**
 * The revocation is already stored (new connections are refused), so a failure to close live
 * ones must not turn the answer into an error the back-end would retry; it is logged instead.
 */
async function disconnectRevoked(
  onRevoke: RevokeHook,
  request: FastifyRequest,
  sessionId: string,
  appId: string,
  target: { jti?: string; identity?: string },
): Promise<number> {
  try {
    return await onRevoke(sessionId, appId, target);
  } catch (err) {
    request.log.error({ err }, 'revoked tokens stored, but live connections could not be closed');
    return 0;
  }
}

function revokeTarget(body: RevokeTokensRequest): { jti?: string; identity?: string } {
  return {
    ...(body.jti !== undefined ? { jti: body.jti } : {}),
    ...(body.identity !== undefined ? { identity: body.identity } : {}),
  };
}
