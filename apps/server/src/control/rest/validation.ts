/**
 * Request validation for the REST API, stricter than Fastify's defaults: a body field we do not
 * know is refused (Fastify would silently drop it, so a typo like `maxParticipant` would go
 * unnoticed) and body values are never coerced. Query strings and path parameters arrive as
 * text, so only they are coerced to the schema's types.
 */

import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';

function newAjv(coerceTypes: boolean): Ajv {
  const ajv = new Ajv({
    coerceTypes,
    useDefaults: true,
    removeAdditional: false,
    allErrors: false,
    strict: false,
  });
  addFormats(ajv);
  return ajv;
}

export function strictValidatorCompiler(): FastifySchemaCompiler<unknown> {
  const forBody = newAjv(false);
  const forText = newAjv(true);
  return ({ schema, httpPart }) => (httpPart === 'body' ? forBody : forText).compile(schema as object);
}
