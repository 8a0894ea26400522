/**
 * Signaling message parsing and validation (apps/server/src/signaling/messages.ts): JSON.parse,
 * then the ajv validator compiled from packages/protocol/src/signaling.ts. Contract: a message
 * whose `type` is a known client message type, or MessageRefused (message_invalid /
 * unknown_message_type) whose text never echoes the input.
 *
 * Input: the text frame (UTF-8).
 */
import { CLIENT_MESSAGE_SCHEMAS } from '@conclave/protocol/signaling';
import { MessageRefused, parseClientMessage } from '../../apps/server/src/signaling/messages.ts';
import { check, expectOnly } from './contract.ts';

const refused = (error: unknown) =>
  error instanceof MessageRefused &&
  (error.code === 'message_invalid' || error.code === 'unknown_message_type');

export function fuzz(data: Buffer): void {
  const text = data.toString('utf8');
  const parsed = expectOnly('parseClientMessage', () => parseClientMessage(text), refused);
  if (parsed.ok) {
    const message = parsed.value as { type?: unknown; id?: unknown };
    check(
      typeof message.type === 'string' && Object.hasOwn(CLIENT_MESSAGE_SCHEMAS, message.type),
      'an accepted message has a known type',
    );
    check(Object.getPrototypeOf(message) === Object.prototype, 'an accepted message is a plain object');
    return;
  }
  const error = parsed.error as MessageRefused;
  check(
    error.requestId === undefined || Number.isSafeInteger(error.requestId),
    'the request id echoed back is a safe integer',
  );
  check(error.message.length <= 300, 'refusal message is short');
  // The reason names a path and a rule, never the offending value.
  if (text.length >= 12 && !/^[\s\w{}":,[\]./-]*$/.test(text)) {
    check(!error.message.includes(text), 'refusal message echoes the input');
  }
}
