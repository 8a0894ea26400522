/**
 * Errors the SDK surfaces. Server errors keep the protocol's stable code (for example
 * `publish_not_allowed`); failures detected in the browser have client codes of their own.
 */
import { type ErrorCode, isErrorCode } from '@conclave/protocol/errors';

export const CLIENT_ERROR_CODES = [
  /** The page is not a secure context (https:// or http://localhost): WebRTC and media are unavailable. */
  'insecure_context',
  /** The signaling connection could not be opened or was lost for good. */
  'connection_failed',
  /** A request was made on a session that is disconnected. */
  'not_connected',
  /** The server did not answer a request in time. */
  'timeout',
  /** Camera, microphone or screen could not be captured. */
  'media_access_failed',
  /** A WebRTC operation in the browser failed (offer, answer, ICE). */
  'webrtc_failed',
  /** An argument is not valid. */
  'invalid_argument',
] as const;

export type ClientErrorCode = (typeof CLIENT_ERROR_CODES)[number];

export class ConclaveClientError extends Error {
  readonly code: ErrorCode | ClientErrorCode;

  constructor(code: ErrorCode | ClientErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ConclaveClientError';
    this.code = code;
  }

  /** Builds an error from the server's `{ code, message }`, trusting only codes it knows. */
  static fromServer(error: { code: unknown; message: unknown }): ConclaveClientError {
    const code = isErrorCode(error.code) ? error.code : 'internal';
    const message = typeof error.message === 'string' ? error.message : 'Server error';
    return new ConclaveClientError(code, message);
  }
}

export function toClientError(code: ClientErrorCode, error: unknown, fallback: string): ConclaveClientError {
  if (error instanceof ConclaveClientError) return error;
  const detail = error instanceof Error ? `: ${error.message}` : '';
  return new ConclaveClientError(code, fallback + detail, { cause: error });
}
