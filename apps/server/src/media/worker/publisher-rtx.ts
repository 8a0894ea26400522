/**
 * RTX from a publisher (RFC 4588): the resends our NACKs asked for arrive on the RTX SSRC of
 * their layer with the original sequence number in front of the payload. They are restored to the
 * media packet they repair and go through the producer like any packet: into the cache, to the
 * consumers (whose own NACKs may be waiting for it), and past the loss tracker.
 *
 * RTX SSRC -> layer: without simulcast there is one layer; with simulcast Chromium puts the
 * layer's rid in the repaired-rtp-stream-id extension of the first RTX packets, as it does for
 * media, so the mapping is learned from those and kept. Chromium also sends RTX as bandwidth
 * probes: padding-only packets restore to nothing, and a resend of a packet already received is
 * dropped as a duplicate, so neither costs subscribers bandwidth.
 */
import { unwrapRtx } from '../rtp/nack.ts';
import { headerExtensionText, sequenceOf, ssrcOf } from '../rtp/packet.ts';
import type { PacketCache } from './packet-cache.ts';

/** Largest RTX packet restored (Chromium's stay under 1,200 bytes). */
export const MAX_RTX_PACKET_BYTES = 1500;
/** RTX SSRCs remembered; more than a publisher could legitimately use means the map restarts. */
const MAX_RTX_STREAMS = 16;

/** What the restorer needs of its producer. */
export interface RtxTarget {
  readonly payloadType: number;
  readonly rids: readonly string[];
  readonly layerSsrcs: readonly number[];
  readonly cache: PacketCache | null;
}

export class PublisherRtx {
  /** RTX packets restored and forwarded. */
  repaired = 0;
  /** RTX packets dropped: padding, duplicates, unknown layer, malformed. */
  discarded = 0;
  readonly #payloadType: number;
  readonly #repairedRidExtensionId: number;
  readonly #layerBySsrc = new Map<number, number>();
  readonly #restored = Buffer.alloc(MAX_RTX_PACKET_BYTES);

  constructor(payloadType: number, repairedRidExtensionId: number) {
    this.#payloadType = payloadType;
    this.#repairedRidExtensionId = repairedRidExtensionId;
  }

  /**
   * The media packet an RTX packet carries (a view of an internal buffer, valid until the next
   * call), or null when `packet` is not RTX of this producer or is not worth forwarding.
   */
  restore(packet: Buffer, producer: RtxTarget, now: number): Buffer | null {
    if ((packet[1]! & 0x7f) !== this.#payloadType) return null;
    const layer = this.#layerOf(packet, producer);
    const mediaSsrc = layer < 0 ? 0 : producer.layerSsrcs[layer]!;
    const restored =
      mediaSsrc === 0
        ? null
        : unwrapRtx(packet, this.#restored, { payloadType: producer.payloadType, ssrc: mediaSsrc });
    if (!restored || producer.cache?.has(layer, sequenceOf(restored), now)) {
      this.discarded++;
      return null;
    }
    this.repaired++;
    return restored;
  }

  #layerOf(packet: Buffer, producer: RtxTarget): number {
    if (producer.rids.length === 0) return 0;
    const ssrc = ssrcOf(packet);
    const known = this.#layerBySsrc.get(ssrc);
    if (known !== undefined) return known;
    const layer = producer.rids.indexOf(headerExtensionText(packet, this.#repairedRidExtensionId));
    if (layer < 0) return -1;
    if (this.#layerBySsrc.size >= MAX_RTX_STREAMS) this.#layerBySsrc.clear();
    this.#layerBySsrc.set(ssrc, layer);
    return layer;
  }
}
