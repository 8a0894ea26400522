/**
 * Puts senders and receivers of the session's peer connections through the E2EE worker.
 * Every sender and receiver gets a pipeline id; a receiver's pipeline also knows whose frames
 * it carries, which changes when the SFU reuses a media section for another stream.
 */
import { ConclaveClientError } from '../errors.ts';
import type { MediaKind } from './frame-format.ts';
import type { PipelineOptions, ToWorker } from './worker-protocol.ts';

interface EncodedStreams {
  readable: ReadableStream;
  writable: WritableStream;
}

type WithTransform = { transform: RTCRtpScriptTransform | null };
type WithEncodedStreams = { createEncodedStreams(): EncodedStreams };

export class MediaProtection {
  readonly #worker: Worker;
  readonly #mode: 'script' | 'streams';
  #nextId = 1;
  readonly #senders = new WeakSet<RTCRtpSender>();
  readonly #receivers = new WeakMap<RTCRtpReceiver, { id: number; participantId: string | null }>();

  constructor(worker: Worker, mode: 'script' | 'streams') {
    this.#worker = worker;
    this.#mode = mode;
  }

  /** What every RTCPeerConnection of an E2EE session needs (the older API asks up front). */
  get rtcConfiguration(): Record<string, unknown> {
    return this.#mode === 'streams' ? { encodedInsertableStreams: true } : {};
  }

  post(message: ToWorker): void {
    this.#worker.postMessage(message);
  }

  /** Encrypts everything this sender sends. Call before the connection is negotiated. */
  protectSender(sender: RTCRtpSender, kind: MediaKind): void {
    if (this.#senders.has(sender)) return;
    this.#senders.add(sender);
    this.#install(sender, { id: this.#nextId++, direction: 'send', kind, participantId: null });
  }

  /** Decrypts what this receiver gets, as frames of `participantId` (null: not known yet, drop). */
  protectReceiver(receiver: RTCRtpReceiver, participantId: string | null): void {
    const known = this.#receivers.get(receiver);
    if (known) {
      if (known.participantId === participantId) return;
      known.participantId = participantId;
      this.post({ type: 'retarget', id: known.id, participantId });
      return;
    }
    const id = this.#nextId++;
    this.#receivers.set(receiver, { id, participantId });
    const kind: MediaKind = receiver.track.kind === 'audio' ? 'audio' : 'video';
    this.#install(receiver, { id, direction: 'receive', kind, participantId });
  }

  close(): void {
    this.#worker.terminate();
  }

  #install(endpoint: RTCRtpSender | RTCRtpReceiver, options: PipelineOptions): void {
    try {
      if (this.#mode === 'script') {
        (endpoint as unknown as WithTransform).transform = new RTCRtpScriptTransform(this.#worker, options);
        return;
      }
      const { readable, writable } = (endpoint as unknown as WithEncodedStreams).createEncodedStreams();
      this.#worker.postMessage({ type: 'pipeline', options, readable, writable } satisfies ToWorker, [
        readable as unknown as Transferable,
        writable as unknown as Transferable,
      ]);
    } catch (error) {
      throw new ConclaveClientError('e2ee_unsupported', 'Could not attach end-to-end encryption', {
        cause: error,
      });
    }
  }
}
