/**
 * The E2EE worker: every encoded frame of every protected sender and receiver of a session
 * passes through here (RTCRtpScriptTransform, or streams transferred from createEncodedStreams).
 * Frames are never passed on in clear to the network: a sender with no key yet drops its
 * frames; a frame that does not decrypt is dropped (the decoder never sees it) and reported,
 * at most once a second per sender and reason.
 *
 * Bundled on its own (an IIFE, classic worker): served as /sdk/conclave-e2ee-worker.js and
 * embedded in the SDK bundle as a string for Blob URLs (see worker-launch.ts).
 */
import { type DecryptFailure, FrameCryptor } from './frame-cryptor.ts';
import type { EncodedFrame, FromWorker, PipelineOptions, ToWorker } from './worker-protocol.ts';

interface WorkerScope {
  onmessage: ((event: MessageEvent<ToWorker>) => void) | null;
  onrtctransform: ((event: { transformer: ScriptTransformer }) => void) | null;
  postMessage(message: FromWorker): void;
}

/** RTCRtpScriptTransformer, as the worker sees it. */
interface ScriptTransformer {
  readonly options: PipelineOptions;
  readonly readable: ReadableStream<EncodedFrame>;
  readonly writable: WritableStream<EncodedFrame>;
  sendKeyFrameRequest?(): Promise<void>;
}

const REPORT_INTERVAL_MS = 1000;

const scope = globalThis as unknown as WorkerScope;
const cryptor = new FrameCryptor();
/** Receiver pipeline id -> whose frames it carries now. */
const sources = new Map<number, string | null>();
const lastReported = new Map<string, number>();

/** Key updates are applied one after another, in the order the page sent them. */
let keyUpdates: Promise<void> = Promise.resolve();

scope.onmessage = (event) => {
  const message = event.data;
  switch (message.type) {
    case 'localKey':
      keyUpdates = keyUpdates.then(() => cryptor.setLocalKey(message.keyId, message.material)).catch(noop);
      break;
    case 'remoteKey':
      keyUpdates = keyUpdates
        .then(() => cryptor.setRemoteKey(message.participantId, message.keyId, message.material))
        .catch(noop);
      break;
    case 'forget':
      keyUpdates = keyUpdates.then(() => cryptor.forget(message.participantId));
      break;
    case 'pipeline':
      run(message.options, message.readable, message.writable, null);
      break;
    case 'retarget':
      if (sources.has(message.id)) sources.set(message.id, message.participantId);
      break;
  }
};

scope.onrtctransform = (event) => {
  const t = event.transformer;
  run(t.options, t.readable, t.writable, t);
};

scope.postMessage({ type: 'ready' });

function run(
  options: PipelineOptions,
  readable: ReadableStream<EncodedFrame>,
  writable: WritableStream<EncodedFrame>,
  transformer: ScriptTransformer | null,
): void {
  const transform =
    options.direction === 'send' ? encryptFrames(options) : decryptFrames(options, transformer);
  readable
    .pipeThrough(new TransformStream<EncodedFrame, EncodedFrame>({ transform }))
    .pipeTo(writable)
    .catch(noop); // the sender or receiver went away
}

function encryptFrames(options: PipelineOptions) {
  return async (frame: EncodedFrame, controller: TransformStreamDefaultController<EncodedFrame>) => {
    try {
      const data = new Uint8Array(frame.data);
      if (data.length === 0) return controller.enqueue(frame);
      const sealed = await cryptor.encrypt(data, options.kind, frame.type === 'key');
      if (!sealed) return; // no key yet: better no frame than a frame in clear
      frame.data = sealed.buffer as ArrayBuffer;
      controller.enqueue(frame);
    } catch {
      // A frame that cannot be encrypted is not sent.
    }
  };
}

function decryptFrames(options: PipelineOptions, transformer: ScriptTransformer | null) {
  sources.set(options.id, options.participantId);
  let failing = false;
  return async (frame: EncodedFrame, controller: TransformStreamDefaultController<EncodedFrame>) => {
    try {
      const data = new Uint8Array(frame.data);
      if (data.length === 0) return controller.enqueue(frame);
      const participantId = sources.get(options.id) ?? null;
      if (!participantId) return;
      const result = await cryptor.decrypt(participantId, data);
      if (!result.ok) {
        failing = true;
        report(participantId, result.reason, result.keyId);
        return;
      }
      frame.data = result.data.buffer as ArrayBuffer;
      controller.enqueue(frame);
      if (failing) {
        // Frames were dropped: the decoder needs a keyframe to show a picture again.
        failing = false;
        transformer?.sendKeyFrameRequest?.().catch(noop);
      }
    } catch {
      // Never let one bad frame break the pipeline.
    }
  };
}

function report(participantId: string, reason: DecryptFailure, keyId: number | null): void {
  const key = `${participantId}|${reason}`;
  const now = Date.now();
  if (now - (lastReported.get(key) ?? 0) < REPORT_INTERVAL_MS) return;
  lastReported.set(key, now);
  scope.postMessage({ type: 'decryptionFailed', participantId, reason, keyId });
}

function noop(): void {}
