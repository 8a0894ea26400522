import { type ErrorCode, isErrorCode } from '@conclave/protocol/errors';

/**
 * A REST call that failed. `code` is the protocol's stable error code (`unauthorized`,
 * `session_not_found`, ...); network failures and unreadable answers use `unavailable` and
 * `internal` so callers can always switch on `code`.
 */
export class ConclaveApiError extends Error {
  readonly code: ErrorCode;
  readonly status: number;

  constructor(code: ErrorCode, status: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ConclaveApiError';
    this.code = code;
    this.status = status;
  }
}

/** Builds the error from a non-2xx response, trusting the body only when it has the protocol shape. */
export async function apiErrorFrom(response: Response): Promise<ConclaveApiError> {
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    body = undefined;
  }
  const error = typeof body === 'object' && body !== null ? (body as { error?: unknown }).error : undefined;
  if (typeof error === 'object' && error !== null) {
    const { code, message } = error as { code?: unknown; message?: unknown };
    if (isErrorCode(code)) {
      return new ConclaveApiError(code, response.status, typeof message === 'string' ? message : code);
    }
  }
  const code: ErrorCode = response.status >= 500 ? 'internal' : 'invalid_request';
  return new ConclaveApiError(code, response.status, `Conclave answered HTTP ${response.status}`);
}
