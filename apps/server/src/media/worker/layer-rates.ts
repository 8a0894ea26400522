/**
 * Measured bitrate of each layer of a producer, for the bandwidth allocator. The packet path only
 * adds bytes to a counter; rates are computed when read, at most once per RATE_WINDOW_MS.
 *
 * A rate is the average over the last RATE_WINDOWS windows, not the latest one: a worker that
 * stalls for a moment receives the packets of the stall all at once, and a keyframe is several
 * times a delta frame. A one-window rate then reads 1.5x high for a second, and the allocator
 * would pause a video that fits (measured: 192 kbit/s for a 120 kbit/s layer after a stall).
 *
 * Windows in which a layer sent nothing do not count, and one that sent nothing in any keeps its
 * last measured rate: it is paused (by the publisher's encoder or by dynacast), and the allocator
 * must still know what resuming it costs. A layer never seen yet is assumed to cost
 * DEFAULT_VIDEO_LAYER_BPS (or three times the layer below, when that one is known): the usual
 * ratio of simulcast layers scaled by 2 in each direction.
 */
import type { MediaKind } from '../api.ts';

const RATE_WINDOW_MS = 1000;
/** Windows averaged over: about three seconds, a keyframe interval's worth at most. */
const RATE_WINDOWS = 3;
export const DEFAULT_VIDEO_LAYER_BPS = [150_000, 500_000, 1_500_000, 2_500_000];
export const DEFAULT_AUDIO_BPS = 40_000;

export class LayerRates {
  /** Bytes of the current window, per layer. */
  readonly #bytes: Float64Array;
  /** Bytes of each closed window, RATE_WINDOWS per layer (ring). */
  readonly #windowBytes: Float64Array;
  /** Length in ms of each closed window (ring, shared by the layers). */
  readonly #windowMs = new Float64Array(RATE_WINDOWS);
  readonly #bps: Float64Array;
  readonly #kind: MediaKind;
  #windowStart = -1;
  #windowIndex = 0;

  constructor(kind: MediaKind, layers: number) {
    this.#kind = kind;
    this.#bytes = new Float64Array(layers);
    this.#windowBytes = new Float64Array(layers * RATE_WINDOWS);
    this.#bps = new Float64Array(layers);
  }

  /** Packet path. */
  add(layer: number, bytes: number): void {
    this.#bytes[layer] = this.#bytes[layer]! + bytes;
  }

  /** Bits per second of `layer`: measured, last measured, or assumed (see the file comment). */
  bitrate(layer: number, nowMs: number): number {
    this.#roll(nowMs);
    const measured = this.#bps[layer] ?? 0;
    if (measured > 0) return measured;
    if (this.#kind === 'audio') return DEFAULT_AUDIO_BPS;
    const below = layer > 0 ? this.bitrate(layer - 1, nowMs) : 0;
    const fallback = DEFAULT_VIDEO_LAYER_BPS[Math.min(layer, DEFAULT_VIDEO_LAYER_BPS.length - 1)]!;
    return below > 0 && this.#bps[layer - 1]! > 0 ? below * 3 : fallback;
  }

  #roll(nowMs: number): void {
    if (this.#windowStart < 0) {
      // Bytes added before the first read span an unknown time: measured from here on.
      this.#windowStart = nowMs;
      this.#bytes.fill(0);
      return;
    }
    const elapsed = nowMs - this.#windowStart;
    if (elapsed < RATE_WINDOW_MS) return;
    const slot = this.#windowIndex;
    this.#windowIndex = (slot + 1) % RATE_WINDOWS;
    this.#windowMs[slot] = elapsed;
    for (let layer = 0; layer < this.#bytes.length; layer++) {
      const ring = layer * RATE_WINDOWS;
      this.#windowBytes[ring + slot] = this.#bytes[layer]!;
      this.#bytes[layer] = 0;
      // Only the windows the layer sent in: one paused for a while must not read as cheap.
      let bytes = 0;
      let spanMs = 0;
      for (let i = 0; i < RATE_WINDOWS; i++) {
        const windowBytes = this.#windowBytes[ring + i]!;
        if (windowBytes === 0) continue;
        bytes += windowBytes;
        spanMs += this.#windowMs[i]!;
      }
      if (bytes > 0) this.#bps[layer] = (bytes * 8 * 1000) / spanMs;
    }
    this.#windowStart = nowMs;
  }
}
