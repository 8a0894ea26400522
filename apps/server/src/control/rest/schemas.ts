/** Route schemas shared by the REST routes, so every route documents the same error answers. */
import { ErrorResponse } from '@conclave/protocol/rest';
import Type from 'typebox';

const ERROR_DESCRIPTIONS = {
  400: 'invalid_request: a field is missing or not valid (the message names it)',
  401: 'unauthorized: authentication failed (always the same body, whatever the reason)',
  404: 'session_not_found: no such session for this application',
  409: 'conflict: the name is taken in this application; archive_e2ee_refused: e2ee sessions cannot be archived',
  413: 'payload_too_large',
  415: 'unsupported_media_type: send application/json',
  500: 'internal',
} as const;

export type ErrorStatus = keyof typeof ERROR_DESCRIPTIONS;

export function errorResponses(...statuses: ErrorStatus[]) {
  const responses: Partial<Record<ErrorStatus, typeof ErrorResponse>> = {};
  for (const status of [...statuses, 401, 500] as ErrorStatus[]) {
    responses[status] = Type.Object(ErrorResponse.properties, { description: ERROR_DESCRIPTIONS[status] });
  }
  return responses;
}

/** The same schema with a description for the OpenAPI document (validation is unchanged). */
export function described<T extends object>(schema: T, description: string): T {
  return { ...schema, description };
}
