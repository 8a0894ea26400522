/**
 * REST API v1 bodies. These TypeBox schemas are the single source: the server validates with
 * them, the OpenAPI document at /v1/openapi.json is generated from them, and the server SDK
 * uses their static types.
 */
import Type, { type Static } from 'typebox';

export const MEDIA_MODES = ['routed', 'relayed'] as const;
export const ARCHIVE_MODES = ['manual', 'always'] as const;

export const REST_LIMITS = {
  maxBodyBytes: 64 * 1024,
  maxMetadataBytes: 4096,
  maxSessionNameLength: 128,
  maxRegionLength: 64,
  maxParticipantsCeiling: 10_000,
  maxListLimit: 100,
} as const;

export const SessionName = Type.String({
  minLength: 1,
  maxLength: REST_LIMITS.maxSessionNameLength,
  pattern: '^[A-Za-z0-9][A-Za-z0-9 ._-]*$',
  description: 'Name scoped to the application; unique among its sessions',
});

export const CreateSessionRequest = Type.Object(
  {
    name: Type.Optional(SessionName),
    mediaMode: Type.Optional(
      Type.Union([Type.Literal('routed'), Type.Literal('relayed')], { default: 'routed' }),
    ),
    e2ee: Type.Optional(Type.Boolean({ default: false })),
    maxParticipants: Type.Optional(Type.Integer({ minimum: 1, maximum: REST_LIMITS.maxParticipantsCeiling })),
    archiveMode: Type.Optional(
      Type.Union([Type.Literal('manual'), Type.Literal('always')], { default: 'manual' }),
    ),
    region: Type.Optional(
      Type.String({ minLength: 1, maxLength: REST_LIMITS.maxRegionLength, pattern: '^[a-z0-9-]+$' }),
    ),
    metadata: Type.Optional(
      Type.String({
        maxLength: REST_LIMITS.maxMetadataBytes,
        description: 'Opaque to Conclave; returned to the back-end only, never to participants',
      }),
    ),
  },
  { additionalProperties: false },
);
export type CreateSessionRequest = Static<typeof CreateSessionRequest>;

export const Session = Type.Object({
  id: Type.String({ description: 'Unguessable session id (at least 128 bits of randomness)' }),
  name: Type.Union([Type.String(), Type.Null()]),
  mediaMode: Type.Union([Type.Literal('routed'), Type.Literal('relayed')]),
  e2ee: Type.Boolean(),
  maxParticipants: Type.Union([Type.Integer(), Type.Null()]),
  archiveMode: Type.Union([Type.Literal('manual'), Type.Literal('always')]),
  region: Type.Union([Type.String(), Type.Null()]),
  metadata: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String({ format: 'date-time' }),
});
export type Session = Static<typeof Session>;

export const SessionList = Type.Object({
  sessions: Type.Array(Session),
  nextCursor: Type.Union([Type.String(), Type.Null()]),
});
export type SessionList = Static<typeof SessionList>;

export const ListSessionsQuery = Type.Object(
  {
    name: Type.Optional(SessionName),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: REST_LIMITS.maxListLimit, default: 50 })),
    cursor: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);
export type ListSessionsQuery = Static<typeof ListSessionsQuery>;

export const SessionIdParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9_-]+$' }),
});

export const RevokeTokensRequest = Type.Object(
  {
    jti: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    identity: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type RevokeTokensRequest = Static<typeof RevokeTokensRequest>;

export const RevokeTokensResponse = Type.Object({
  revoked: Type.Boolean(),
  /** Live connections closed at once because of this revocation. */
  disconnected: Type.Integer(),
});
export type RevokeTokensResponse = Static<typeof RevokeTokensResponse>;

export const ErrorResponse = Type.Object({
  error: Type.Object({ code: Type.String(), message: Type.String() }),
});

export const HealthResponse = Type.Object({ status: Type.Literal('ok') });
