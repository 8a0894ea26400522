/**
 * The one error handler of the REST API. Whatever went wrong, the caller gets
 * `{"error":{"code","message"}}` with the status the protocol table assigns to the code, and
 * never a stack trace, a secret or a file path: unknown errors are logged here and answered
 * with a bare `internal`.
 */
import { ConclaveError, type ErrorCode, httpStatusOf } from '@conclave/protocol/errors';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** Fastify's own request errors, by code, and what they mean in protocol terms. */
const FASTIFY_CODES: Readonly<Record<string, { code: ErrorCode; message?: string }>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { code: 'payload_too_large' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: 'unsupported_media_type' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    code: 'invalid_request',
    message: 'Content-Length does not match the body',
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: {
    code: 'invalid_request',
    message: 'The body is empty but Content-Type is JSON',
  },
  FST_ERR_CTP_INVALID_JSON_BODY: { code: 'invalid_request', message: 'The body is not valid JSON' },
};

const MAX_FIELD_LENGTH = 64;

export function installErrorHandler(fastify: FastifyInstance): void {
  fastify.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const answer = toConclaveError(error);
    if (answer.code === 'internal') request.log.error({ err: error }, 'REST request failed');
    return sendError(reply, answer);
  });
}

export function sendError(reply: FastifyReply, error: ConclaveError): FastifyReply {
  return reply.code(httpStatusOf(error.code)).type('application/json').send(error.toBody());
}

export function toConclaveError(error: FastifyError | Error): ConclaveError {
  if (error instanceof ConclaveError) return error;
  const fastifyError = error as FastifyError;
  if (fastifyError.validation) return new ConclaveError('invalid_request', describeValidation(fastifyError));
  const known = fastifyError.code ? FASTIFY_CODES[fastifyError.code] : undefined;
  if (known) return new ConclaveError(known.code, known.message);
  // JSON parse failures (including __proto__ poisoning) come as SyntaxError with status 400.
  if (error instanceof SyntaxError || fastifyError.statusCode === 400) {
    return new ConclaveError('invalid_request', 'The body is not valid JSON');
  }
  return new ConclaveError('internal');
}

/** Names the field that failed (`body.maxParticipants must be <= 10000`), never echoes its value. */
function describeValidation(error: FastifyError): string {
  const first = error.validation?.[0];
  const where = error.validationContext ?? 'request';
  if (!first) return `The ${where} is not valid`;
  const path = first.instancePath.split('/').filter(Boolean).join('.');
  const params = first.params as { additionalProperty?: unknown; missingProperty?: unknown };
  const named = typeof params.missingProperty === 'string' ? params.missingProperty : undefined;
  const extra = typeof params.additionalProperty === 'string' ? params.additionalProperty : undefined;
  const field = [where, path, named ?? extra].filter(Boolean).join('.');
  const shown = field.length > MAX_FIELD_LENGTH ? `${field.slice(0, MAX_FIELD_LENGTH)}…` : field;
  if (extra !== undefined) return `${shown} is not a known field`;
  if (named !== undefined) return `${shown} is required`;
  return `${shown} ${first.message ?? 'is not valid'}`;
}
