/**
 * @conclave/client: the browser SDK. Connect with a participant token minted by your back-end,
 * publish the camera, microphone or screen, subscribe to the others.
 */

export type { ActiveSpeaker, ConnectionInfo, StreamInfo } from '@conclave/protocol/signaling';
export { backoffDelay } from './backoff.ts';
export type {
  DecryptionFailedEvent,
  DecryptionFailureReason,
  E2eeKeyProvider,
  E2eeOptions,
} from './e2ee/options.ts';
export { e2eeSupported } from './e2ee/options.ts';
export { CLIENT_ERROR_CODES, type ClientErrorCode, ConclaveClientError } from './errors.ts';
export type { PublishedTrack, PublishOptions, SimulcastLayerOptions, VideoCodec } from './publisher.ts';
export { DEFAULT_SIMULCAST_LAYERS, Publisher } from './publisher.ts';
export {
  type ConnectOptions,
  type DisconnectReason,
  SDK_VERSION,
  Session,
  type SessionEvents,
  type SignalEvent,
} from './session.ts';
export { type SimulcastLayer, Subscriber } from './subscriber.ts';
