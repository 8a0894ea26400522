/**
 * Asks a publisher to resend what its uplink lost: gaps in each layer's sequence numbers become
 * pending losses, NACKed every NACK_FLUSH_MS until the packet (or its RTX) arrives, at most
 * NACK_MAX_TRIES times NACK_RETRY_MS apart, never after NACK_GIVE_UP_MS.
 *
 * Only losses the transport-wide feedback already reported are NACKed (when transport-cc is
 * negotiated): Chromium drops a packet from its resend buffer as soon as feedback says it arrived,
 * and packets merely reordered would otherwise be NACKed too. A loss is reported by the first
 * feedback built after the packet that revealed the gap, so each feedback sent releases the losses
 * pending at that moment.
 *
 * Bounded: at most NACK_MAX_PENDING losses are tracked per producer, and a gap wider than
 * NACK_MAX_GAP is not NACKed (a keyframe request repairs that faster than hundreds of resends).
 */
import { guard } from './guard.ts';

export const NACK_FLUSH_MS = 20;
export const NACK_RETRY_MS = 100;
export const NACK_MAX_TRIES = 3;
export const NACK_GIVE_UP_MS = 1000;
export const NACK_MAX_PENDING = 512;
export const NACK_MAX_GAP = 128;

interface PendingLoss {
  layer: number;
  sequence: number;
  detectedAt: number;
  lastNackAt: number;
  tries: number;
  /** Transport-wide feedback has reported it lost (always true without transport-cc). */
  reported: boolean;
}

export class NackGenerator {
  nacksSent = 0;
  /** Losses NACKed at least once and then received (repaired by RTX or a late original). */
  recovered = 0;
  readonly #highest: Int32Array;
  readonly #pending = new Map<number, PendingLoss>();
  readonly #gatedByFeedback: boolean;
  readonly #send: (layer: number, sequences: number[]) => void;
  readonly #onGapTooWide: (layer: number) => void;
  #timer: NodeJS.Timeout | null = null;

  constructor(params: {
    layerCount: number;
    gatedByFeedback: boolean;
    send: (layer: number, sequences: number[]) => void;
    onGapTooWide: (layer: number) => void;
  }) {
    this.#highest = new Int32Array(params.layerCount).fill(-1);
    this.#gatedByFeedback = params.gatedByFeedback;
    this.#send = params.send;
    this.#onGapTooWide = params.onGapTooWide;
  }

  /** Packet path: a media packet (original or restored from RTX) of `layer` arrived. */
  onPacket(layer: number, sequence: number, now: number): void {
    const highest = this.#highest[layer]!;
    if (highest < 0) {
      this.#highest[layer] = sequence;
      return;
    }
    const step = (sequence - highest) & 0xffff;
    if (step === 0) return;
    if (step >= 0x8000) {
      // Behind the highest: a late or repaired packet; no longer lost.
      const loss = this.#pending.get(key(layer, sequence));
      if (loss) {
        if (loss.tries > 0) this.recovered++;
        this.#pending.delete(key(layer, sequence));
      }
      return;
    }
    this.#highest[layer] = sequence;
    if (step === 1) return;
    if (step - 1 > NACK_MAX_GAP) {
      this.#onGapTooWide(layer);
      return;
    }
    for (let missing = (highest + 1) & 0xffff; missing !== sequence; missing = (missing + 1) & 0xffff) {
      if (this.#pending.size >= NACK_MAX_PENDING) break;
      this.#pending.set(key(layer, missing), {
        layer,
        sequence: missing,
        detectedAt: now,
        lastNackAt: Number.NEGATIVE_INFINITY,
        tries: 0,
        reported: !this.#gatedByFeedback,
      });
    }
    this.#arm();
  }

  /** A transport-wide feedback left: every loss pending now was reported in it. */
  onFeedbackSent(): void {
    for (const loss of this.#pending.values()) loss.reported = true;
  }

  /** The layer's stream restarted (new SSRC): its old sequence numbers mean nothing now. */
  resetLayer(layer: number): void {
    this.#highest[layer] = -1;
    for (const [k, loss] of this.#pending) if (loss.layer === layer) this.#pending.delete(k);
  }

  /** Sends the NACKs that are due, one RTCP packet per layer. */
  flush(now: number): void {
    let due: Map<number, number[]> | null = null;
    for (const [k, loss] of this.#pending) {
      if (loss.tries >= NACK_MAX_TRIES || now - loss.detectedAt > NACK_GIVE_UP_MS) {
        this.#pending.delete(k);
        continue;
      }
      if (!loss.reported || now - loss.lastNackAt < NACK_RETRY_MS) continue;
      loss.lastNackAt = now;
      loss.tries++;
      due ??= new Map();
      const list = due.get(loss.layer);
      if (list) list.push(loss.sequence);
      else due.set(loss.layer, [loss.sequence]);
    }
    if (due) {
      for (const [layer, sequences] of due) {
        this.#send(layer, sequences);
        this.nacksSent++;
      }
    }
    if (this.#pending.size === 0) this.#disarm();
  }

  get pending(): number {
    return this.#pending.size;
  }

  close(): void {
    this.#disarm();
    this.#pending.clear();
  }

  /** The flush timer runs only while losses are pending: an idle producer costs nothing. */
  #arm(): void {
    if (this.#timer) return;
    this.#timer = setInterval(
      guard('publisher nack', () => this.flush(performance.now())),
      NACK_FLUSH_MS,
    );
    this.#timer.unref();
  }

  #disarm(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }
}

function key(layer: number, sequence: number): number {
  return layer * 0x10000 + sequence;
}
