/**
 * Transport-wide feedback for one publisher connection: every packet's transport-wide sequence
 * number is recorded on arrival, and every FEEDBACK_INTERVAL_MS the arrivals are reported back so
 * the browser's congestion controller can ramp its uplink estimate (and know what was lost).
 */
import type { Track } from 'node-datachannel';
import { headerExtensionOffset } from '../rtp/packet.ts';
import { TwccRecorder } from '../rtp/twcc.ts';
import { guard } from './guard.ts';

/** libwebrtc's receive-side default is 100 ms; 50 ms reacts faster and costs ~20 small packets/s. */
export const FEEDBACK_INTERVAL_MS = 50;

export class TwccFeedback {
  readonly recorder = new TwccRecorder();
  readonly #extensionId: number;
  readonly #track: Track;
  readonly #mediaSsrc: () => number;
  readonly #timer: NodeJS.Timeout;
  readonly #onSent: () => void;
  feedbackSent = 0;

  /** `onSent` runs after each feedback sent: the losses it reported may now be NACKed. */
  constructor(track: Track, extensionId: number, mediaSsrc: () => number, onSent: () => void = () => {}) {
    this.#track = track;
    this.#onSent = onSent;
    this.#extensionId = extensionId;
    this.#mediaSsrc = mediaSsrc;
    this.#timer = setInterval(
      guard('transport feedback', () => this.#send()),
      FEEDBACK_INTERVAL_MS,
    );
    this.#timer.unref();
  }

  /** Packet path: reads the 2-byte transport-wide sequence number, if the packet carries one. */
  onRtp(packet: Uint8Array, nowMs: number): void {
    const at = headerExtensionOffset(packet, this.#extensionId);
    if (at < 0 || at + 2 > packet.length) return;
    this.recorder.record((packet[at]! << 8) | packet[at + 1]!, nowMs * 1000);
  }

  #send(): void {
    if (!this.#track.isOpen()) return;
    for (const feedback of this.recorder.buildFeedback(this.#mediaSsrc())) {
      this.#track.sendMessageBinary(feedback);
      this.feedbackSent++;
    }
    this.#onSent();
  }

  close(): void {
    clearInterval(this.#timer);
  }
}
