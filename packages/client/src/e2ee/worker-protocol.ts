/**
 * Messages between the page and the E2EE worker. Key material crosses as bytes (structured
 * clone); the worker never sees secrets of the key exchange, only media keys.
 */
import type { DecryptFailure } from './frame-cryptor.ts';
import type { MediaKind } from './frame-format.ts';

/** One encoded-transform pipeline: a sender (encrypts) or a receiver (decrypts). */
export interface PipelineOptions {
  id: number;
  direction: 'send' | 'receive';
  kind: MediaKind;
  /** Receivers: whose frames arrive; null until the section is mapped to a stream. */
  participantId: string | null;
}

export type ToWorker =
  | { type: 'localKey'; keyId: number; material: Uint8Array }
  | { type: 'remoteKey'; participantId: string; keyId: number; material: Uint8Array }
  | { type: 'forget'; participantId: string }
  /** createEncodedStreams fallback: the streams are transferred with the message. */
  | {
      type: 'pipeline';
      options: PipelineOptions;
      readable: ReadableStream<EncodedFrame>;
      writable: WritableStream<EncodedFrame>;
    }
  /** A reused receiver now carries another participant's stream. */
  | { type: 'retarget'; id: number; participantId: string | null };

export type FromWorker =
  | { type: 'ready' }
  | { type: 'decryptionFailed'; participantId: string; reason: DecryptFailure; keyId: number | null };

/** RTCEncodedVideoFrame / RTCEncodedAudioFrame, as far as the transform uses them. */
export interface EncodedFrame {
  data: ArrayBuffer;
  /** Video only: 'key', 'delta' or 'empty'. */
  readonly type?: string;
}

/** The file name of the worker bundle served next to the SDK (/sdk/conclave-e2ee-worker.js). */
export const E2EE_WORKER_FILE = 'conclave-e2ee-worker.js';
