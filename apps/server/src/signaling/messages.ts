/**
 * Turns a text frame into a validated client message, or a ConclaveError saying why not. The
 * validators are compiled once, at module load, from the protocol package's schemas.
 */

import { ConclaveError } from '@conclave/protocol/errors';
import {
  CLIENT_MESSAGE_SCHEMAS,
  type ClientMessage,
  type ClientMessageType,
} from '@conclave/protocol/signaling';
import { Ajv, type ValidateFunction } from 'ajv';

const ajv = new Ajv({ allErrors: false, strict: false });
const VALIDATORS = Object.fromEntries(
  Object.entries(CLIENT_MESSAGE_SCHEMAS).map(([type, schema]) => [type, ajv.compile(schema)]),
) as Record<ClientMessageType, ValidateFunction>;

export class MessageRefused extends ConclaveError {
  /** The request id, when the refused message carried one the client can match. */
  readonly requestId: number | undefined;

  constructor(
    code: 'message_invalid' | 'unknown_message_type',
    requestId: number | undefined,
    message?: string,
  ) {
    super(code, message);
    this.requestId = requestId;
  }
}

export function parseClientMessage(text: string): ClientMessage {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new MessageRefused('message_invalid', undefined, 'The message is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new MessageRefused('message_invalid', undefined, 'A message is a JSON object with a `type`');
  }
  const record = value as Record<string, unknown>;
  const requestId = typeof record.id === 'number' && Number.isSafeInteger(record.id) ? record.id : undefined;
  const type = record.type;
  if (typeof type !== 'string' || !Object.hasOwn(VALIDATORS, type)) {
    throw new MessageRefused('unknown_message_type', requestId);
  }
  const validate = VALIDATORS[type as ClientMessageType];
  if (!validate(value)) throw new MessageRefused('message_invalid', requestId, describe(type, validate));
  return value as ClientMessage;
}

/** Names the first schema violation (a path and a rule, never the offending value). */
function describe(type: string, validate: ValidateFunction): string {
  const first = validate.errors?.[0];
  if (!first) return `The ${type} message does not match its schema`;
  const where = first.instancePath || '(message)';
  return `The ${type} message does not match its schema: ${where} ${first.message ?? 'is invalid'}`;
}
