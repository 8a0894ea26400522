/**
 * Stable error codes shared by the server, the SDKs and the CLI.
 *
 * A code never changes meaning once released; messages may be reworded. This table is the one
 * place that maps a code to an HTTP status (REST) and to a WebSocket close code (signaling, only
 * for errors that end the connection). Nothing else in the code base picks a status by hand.
 */
export const ERRORS = {
  // Generic request errors
  invalid_request: { status: 400, message: 'The request is not valid' },
  unsupported_media_type: { status: 415, message: 'Content-Type must be application/json' },
  payload_too_large: { status: 413, message: 'The request body is too large' },
  not_found: { status: 404, message: 'Not found' },
  conflict: { status: 409, message: 'The resource already exists' },
  rate_limited: { status: 429, message: 'Too many requests' },
  internal: { status: 500, message: 'Internal error' },
  unavailable: { status: 503, message: 'Service unavailable' },

  // Authentication of partner back-ends (REST). Every REST authentication failure answers with
  // exactly this code and message, whatever the reason, so a caller learns nothing from it.
  unauthorized: { status: 401, message: 'Authentication failed' },
  forbidden: { status: 403, message: 'Not allowed' },

  // Participant tokens
  token_invalid: { status: 401, message: 'The token is not valid', close: 4001 },
  token_expired: { status: 401, message: 'The token has expired', close: 4002 },
  token_not_yet_valid: { status: 401, message: 'The token is not valid yet', close: 4001 },
  token_revoked: { status: 401, message: 'The token has been revoked', close: 4003 },
  token_wrong_session: { status: 401, message: 'The token is for another session', close: 4001 },
  token_lifetime_too_long: {
    status: 401,
    message: 'The token lifetime exceeds the maximum',
    close: 4001,
  },
  token_too_large: { status: 401, message: 'The token is too large', close: 4001 },
  token_algorithm_refused: {
    status: 401,
    message: 'The token algorithm is not allowed',
    close: 4001,
  },

  // Sessions and participants
  session_not_found: { status: 404, message: 'Session not found', close: 4004 },
  session_full: { status: 403, message: 'The session is full', close: 4005 },
  publish_not_allowed: { status: 403, message: 'This token may not publish' },
  subscribe_not_allowed: { status: 403, message: 'This token may not subscribe' },
  moderate_not_allowed: { status: 403, message: 'This token may not moderate' },
  data_not_allowed: { status: 403, message: 'This token may not send signals' },
  e2ee_unsupported: {
    status: 400,
    message: 'This session requires end-to-end encryption the client cannot do',
    close: 4006,
  },
  archive_e2ee_refused: {
    status: 409,
    message: 'Sessions with end-to-end encryption cannot be archived',
  },

  // Signaling
  not_authenticated: { status: 401, message: 'Authenticate first', close: 4000 },
  unknown_message_type: { status: 400, message: 'Unknown message type' },
  message_invalid: { status: 400, message: 'The message does not match its schema' },
  message_too_large: { status: 413, message: 'The message is too large', close: 1009 },
  origin_not_allowed: { status: 403, message: 'Origin not allowed', close: 4007 },
  connection_replaced: {
    status: 409,
    message: 'The participant connected again elsewhere',
    close: 4008,
  },
  disconnected_by_moderator: {
    status: 403,
    message: 'Disconnected by a moderator',
    close: 4009,
  },
  stream_not_found: { status: 404, message: 'Stream not found' },
  sdp_invalid: { status: 400, message: 'The session description is not valid' },
  media_unavailable: { status: 503, message: 'No media worker is available' },
  relayed_peer_missing: { status: 409, message: 'The other participant is not connected' },
} as const satisfies Record<string, { status: number; message: string; close?: number }>;

export type ErrorCode = keyof typeof ERRORS;

/** Body of every REST error response and of every signaling `error` message. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string };
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERRORS, value);
}

export function httpStatusOf(code: ErrorCode): number {
  return ERRORS[code].status;
}

/** WebSocket close code for errors that end a signaling connection; undefined when they do not. */
export function closeCodeOf(code: ErrorCode): number | undefined {
  const entry = ERRORS[code];
  return 'close' in entry ? entry.close : undefined;
}

/**
 * The one error type that crosses plane boundaries. `message` is safe to show to the caller: it
 * never contains a secret, a stack trace or a file path (the default message is used unless a
 * more specific, equally safe one is given).
 */
export class ConclaveError extends Error {
  readonly code: ErrorCode;
  readonly status: number;

  constructor(code: ErrorCode, message?: string) {
    super(message ?? ERRORS[code].message);
    this.name = 'ConclaveError';
    this.code = code;
    this.status = ERRORS[code].status;
  }

  toBody(): ErrorBody {
    return { error: { code: this.code, message: this.message } };
  }
}
