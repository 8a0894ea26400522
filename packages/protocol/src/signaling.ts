/**
 * Signaling protocol v1 (WebSocket at /v1/rtc). Filled by the signaling work; see docs/protocol.md.
 */
export const SIGNALING_PROTOCOL_VERSION = 1;
