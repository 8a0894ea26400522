/**
 * @conclave/client: the browser SDK. Connect with a participant token minted by your back-end,
 * publish the camera, microphone or screen, subscribe to the others.
 */

export type { ConnectionInfo, StreamInfo } from '@conclave/protocol/signaling';
export { backoffDelay } from './backoff.ts';
export { CLIENT_ERROR_CODES, type ClientErrorCode, ConclaveClientError } from './errors.ts';
export type { PublishedTrack, PublishOptions } from './publisher.ts';
export { Publisher } from './publisher.ts';
export {
  type ConnectOptions,
  type DisconnectReason,
  SDK_VERSION,
  Session,
  type SessionEvents,
  type SignalEvent,
} from './session.ts';
export { Subscriber } from './subscriber.ts';
