/**
 * What publishers and subscribers need from their session: the current signaling channel (it
 * changes across reconnections) and the ICE configuration from the latest join reply.
 */
import type {
  ClientMessageOf,
  ClientMessageType,
  ReplyResults,
  RequestType,
} from '@conclave/protocol/signaling';
import type { MediaProtection } from './e2ee/media-protection.ts';
import type { RequestBody } from './signaling-channel.ts';

export interface SessionPort {
  request<T extends RequestType & ClientMessageType>(type: T, body: RequestBody<T>): Promise<ReplyResults[T]>;
  send<T extends ClientMessageType>(message: ClientMessageOf<T>): boolean;
  rtcConfiguration(): RTCConfiguration;
  /** End-to-end encryption of senders and receivers; null when the session does not encrypt. */
  readonly protection: MediaProtection | null;
}
