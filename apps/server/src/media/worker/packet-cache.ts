/**
 * The recent packets of one video producer, per simulcast layer, as received (after the
 * connection-scoped header extensions were padded out, before any consumer rewrote them): what a
 * subscriber's NACK is answered from.
 *
 * Memory is fixed and allocated once per layer on its first packet: PACKET_CACHE_SIZE slots of
 * PACKET_CACHE_SLOT_BYTES (640 KiB per layer, under 2 MiB for a three-layer camera). Storing is a
 * copy into the slot of the packet's sequence number, no allocation; a packet is served for at
 * most PACKET_CACHE_MAX_AGE_MS (a retransmission older than that arrives after the receiver's
 * jitter buffer gave up on it and only costs bandwidth).
 */

/** Packets kept per layer (about 2 s of a 2.5 Mbit/s layer, so the age limit usually applies first). */
export const PACKET_CACHE_SIZE = 512;
/** Largest packet kept: Chromium's packets stay under 1,200 bytes; larger ones are not cached. */
export const PACKET_CACHE_SLOT_BYTES = 1280;
export const PACKET_CACHE_MAX_AGE_MS = 1000;

const SLOT_MASK = PACKET_CACHE_SIZE - 1;

class LayerCache {
  readonly slab = Buffer.alloc(PACKET_CACHE_SIZE * PACKET_CACHE_SLOT_BYTES);
  readonly lengths = new Uint16Array(PACKET_CACHE_SIZE);
  /** Sequence number held by each slot; -1: empty. */
  readonly sequences = new Int32Array(PACKET_CACHE_SIZE).fill(-1);
  readonly storedAt = new Float64Array(PACKET_CACHE_SIZE);
}

export class PacketCache {
  readonly #layers: (LayerCache | null)[];

  constructor(layerCount: number) {
    this.#layers = new Array<LayerCache | null>(layerCount).fill(null);
  }

  /** Keeps a copy of `packet` (RTP sequence number `sequence`) of `layer`. */
  store(layer: number, sequence: number, packet: Uint8Array, now: number): void {
    if (packet.length > PACKET_CACHE_SLOT_BYTES) return;
    let cache = this.#layers[layer];
    if (cache === undefined) return;
    if (cache === null) {
      cache = new LayerCache();
      this.#layers[layer] = cache;
    }
    const slot = sequence & SLOT_MASK;
    cache.slab.set(packet, slot * PACKET_CACHE_SLOT_BYTES);
    cache.lengths[slot] = packet.length;
    cache.sequences[slot] = sequence;
    cache.storedAt[slot] = now;
  }

  /** True when `sequence` of `layer` is held (a repaired packet that already arrived is a duplicate). */
  has(layer: number, sequence: number, now: number): boolean {
    return this.find(layer, sequence, now) !== null;
  }

  /**
   * The cached packet, as a view valid until the next store() (copy it before sending on), or
   * null when it was never received, was overwritten, or is too old.
   */
  find(layer: number, sequence: number, now: number): Buffer | null {
    const cache = this.#layers[layer];
    if (!cache) return null;
    const slot = sequence & SLOT_MASK;
    if (cache.sequences[slot] !== sequence || now - cache.storedAt[slot]! > PACKET_CACHE_MAX_AGE_MS)
      return null;
    const start = slot * PACKET_CACHE_SLOT_BYTES;
    return cache.slab.subarray(start, start + cache.lengths[slot]!);
  }
}
