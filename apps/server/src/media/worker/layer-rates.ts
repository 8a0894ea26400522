/**
 * Measured bitrate of each layer of a producer, for the bandwidth allocator. The packet path only
 * adds bytes to a counter; rates are computed when read, at most once per RATE_WINDOW_MS.
 *
 * A layer that sent nothing during a window keeps its last measured rate: it is paused (by the
 * publisher's encoder or by dynacast), and the allocator must still know what resuming it costs.
 * A layer never seen yet is assumed to cost DEFAULT_VIDEO_LAYER_BPS (or three times the layer
 * below, when that one is known): the usual ratio of simulcast layers scaled by 2 in each direction.
 */
import type { MediaKind } from '../api.ts';

const RATE_WINDOW_MS = 1000;
export const DEFAULT_VIDEO_LAYER_BPS = [150_000, 500_000, 1_500_000, 2_500_000];
export const DEFAULT_AUDIO_BPS = 40_000;

export class LayerRates {
  readonly #bytes: Float64Array;
  readonly #bps: Float64Array;
  readonly #kind: MediaKind;
  #windowStart = -1;

  constructor(kind: MediaKind, layers: number) {
    this.#kind = kind;
    this.#bytes = new Float64Array(layers);
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
    if (this.#windowStart < 0) this.#windowStart = nowMs;
    const elapsed = nowMs - this.#windowStart;
    if (elapsed < RATE_WINDOW_MS) return;
    for (let layer = 0; layer < this.#bytes.length; layer++) {
      const bytes = this.#bytes[layer]!;
      if (bytes > 0) this.#bps[layer] = (bytes * 8 * 1000) / elapsed;
      this.#bytes[layer] = 0;
    }
    this.#windowStart = nowMs;
  }
}
