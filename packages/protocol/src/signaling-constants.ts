/**
 * Plain runtime constants of signaling protocol v1, in a module that imports nothing, so the
 * browser SDK can bundle them without pulling the schema library in. signaling.ts re-exports
 * them: import from either.
 */
export const SIGNALING_PROTOCOL_VERSION = 1;
export const SIGNALING_PATH = '/v1/rtc';

export const SIGNALING_LIMITS = {
  /** Frames above this close the connection with 1009. */
  maxMessageBytes: 64 * 1024,
  maxSdpBytes: 60 * 1024,
  maxSignalDataBytes: 8 * 1024,
  maxSignalTypeLength: 64,
  maxSignalRecipients: 100,
  maxStreamNameLength: 100,
  maxCandidateLength: 1024,
  /** Steady message rate per connection and burst allowance (token bucket). */
  messagesPerSecond: 50,
  messageBurst: 200,
  /** A connection that has not sent a valid `join` within this time is closed. */
  joinTimeoutMs: 10_000,
  /** Server pings at this interval; a connection silent for two intervals is closed. */
  pingIntervalMs: 15_000,
  /** A dropped participant may resume within this window before it is removed. */
  resumeWindowMs: 20_000,
  /** `tokenExpiring` is sent this long before the token expires. */
  tokenRefreshLeadMs: 60_000,
} as const;

export const MEDIA_SOURCES = ['microphone', 'camera', 'screen', 'screenAudio'] as const;
export type StreamSource = (typeof MEDIA_SOURCES)[number];
