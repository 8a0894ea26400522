/**
 * Helpers of the end-to-end encryption tests: what a page's SDK handed its E2EE worker (the
 * keys a participant held), how smoothly a remote video plays, and a tap that receives the RTP
 * the SFU forwards (a node-datachannel subscriber, as any participant could be) and puts the
 * encoded frames back together.
 */
import { FrameCryptor } from '@conclave/client/e2ee/frame-cryptor';
import { payloadOffsetOf, payloadTypeOf, sequenceOf, timestampOf } from '@conclave/server/media/rtp/packet';
import { NodeClient } from '../support/node-client.ts';
import type { Participant } from './support.ts';

/** One key the page gave its worker: its own (localKey) or another participant's (remoteKey). */
export interface HeldKey {
  type: 'localKey' | 'remoteKey';
  participantId: string | null;
  keyId: number;
  material: number[];
  /** When the page handed it to its worker (epoch ms, comparable across pages). */
  at: number;
}

/**
 * Records every key the SDK posts to its E2EE worker. Install before joining: the worker is
 * created when the session connects.
 */
export async function recordKeys(p: Participant): Promise<void> {
  await p.page.evaluate(() => {
    const w = window as unknown as { __heldKeys: unknown[] };
    w.__heldKeys = [];
    const post = Worker.prototype.postMessage;
    Worker.prototype.postMessage = function (this: Worker, message: unknown, ...rest: unknown[]) {
      const m = message as { type?: string; participantId?: string; keyId?: number; material?: Uint8Array };
      if (m && (m.type === 'localKey' || m.type === 'remoteKey')) {
        w.__heldKeys.push({
          type: m.type,
          participantId: m.participantId ?? null,
          keyId: m.keyId,
          material: Array.from(m.material ?? []),
          at: performance.timeOrigin + performance.now(),
        });
      }
      return (post as (...a: unknown[]) => void).call(this, message, ...rest);
    } as typeof Worker.prototype.postMessage;
  });
}

export function heldKeys(p: Participant): Promise<HeldKey[]> {
  return p.page.evaluate(() => (window as unknown as { __heldKeys: HeldKey[] }).__heldKeys);
}

/** A receiver-side cryptor holding the given keys of one sender, as a page's worker would. */
export async function cryptorWith(keys: HeldKey[], participantId: string): Promise<FrameCryptor> {
  const cryptor = new FrameCryptor();
  for (const key of keys) await cryptor.setRemoteKey(participantId, key.keyId, Uint8Array.from(key.material));
  return cryptor;
}

/**
 * Starts recording when frames of every remote video of the page are presented
 * (requestVideoFrameCallback), in epoch ms so that times compare across pages.
 */
export async function startFrameTiming(p: Participant): Promise<void> {
  // A string, not a function: tsx would add helpers (__name) the page does not have.
  await p.page.evaluate(`(() => {
    window.__frames = {};
    for (const video of document.querySelectorAll('video[data-stream]')) {
      const times = [];
      window.__frames[video.dataset.stream] = times;
      const onFrame = () => {
        if (times.length < 5000) times.push(performance.timeOrigin + performance.now());
        video.requestVideoFrameCallback(onFrame);
      };
      video.requestVideoFrameCallback(onFrame);
    }
  })()`);
}

/** Presentation times (epoch ms) of one stream's frames since startFrameTiming. */
export async function frameTimes(p: Participant, streamId: string): Promise<number[]> {
  return p.page.evaluate(
    (id) => (window as unknown as { __frames: Record<string, number[]> }).__frames[id] ?? [],
    streamId,
  );
}

/** Longest time without a new frame over [from, to], counting the frames just outside it. */
export function longestGap(times: number[], from: number, to: number): number {
  let longest = 0;
  for (let i = 1; i < times.length; i++) {
    if (times[i]! < from || times[i - 1]! > to) continue;
    longest = Math.max(longest, times[i]! - times[i - 1]!);
  }
  const last = times.at(-1) ?? from;
  return Math.max(longest, to - last);
}

interface CapturedPacket {
  at: number;
  packet: Buffer;
}

/** A Node participant that subscribes to streams and keeps every RTP packet the SFU sends it. */
export class RtpTap {
  readonly packets = new Map<string, CapturedPacket[]>();
  readonly #tapped = new WeakSet<object>();

  private constructor(readonly client: NodeClient) {}

  static async join(serverUrl: string, token: string, sessionId: string, e2ee: boolean): Promise<RtpTap> {
    const client = await NodeClient.connect(serverUrl, token, { sessionId, capabilities: { e2ee } });
    return new RtpTap(client);
  }

  /** Subscribes and returns the mid the stream arrives on. */
  async subscribe(streamId: string): Promise<string> {
    const { mid, peer } = await this.client.subscribe(streamId);
    if (!this.#tapped.has(peer)) {
      this.#tapped.add(peer);
      peer.onRtp((m, packet) => {
        let list = this.packets.get(m);
        if (!list) {
          list = [];
          this.packets.set(m, list);
        }
        list.push({ at: performance.now(), packet: Buffer.from(packet) });
      });
    }
    return mid;
  }

  /** Audio: one Opus frame per packet (payload type 111), with the arrival time. */
  audioFrames(mid: string, since = 0): { at: number; frame: Buffer }[] {
    return (this.packets.get(mid) ?? [])
      .filter((c) => c.at >= since && payloadTypeOf(c.packet) === 111)
      .map((c) => ({ at: c.at, frame: rtpPayload(c.packet) }))
      .filter((f) => f.frame.length > 0);
  }

  /** Video: complete VP8 frames put back together from their packets (payload type 96). */
  videoFrames(mid: string): Buffer[] {
    const byTimestamp = new Map<number, Buffer[]>();
    const packets = (this.packets.get(mid) ?? [])
      .map((c) => c.packet)
      .filter((p) => payloadTypeOf(p) === 96 && rtpPayload(p).length > 0);
    const seen = new Set<number>();
    for (const packet of packets) {
      if (seen.has(sequenceOf(packet))) continue; // a retransmission
      seen.add(sequenceOf(packet));
      const list = byTimestamp.get(timestampOf(packet)) ?? [];
      list.push(packet);
      byTimestamp.set(timestampOf(packet), list);
    }
    const frames: Buffer[] = [];
    for (const list of byTimestamp.values()) {
      const frame = assembleVp8(list);
      if (frame) frames.push(frame);
    }
    return frames;
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

/** The RTP payload without padding. */
function rtpPayload(packet: Buffer): Buffer {
  const offset = payloadOffsetOf(packet);
  if (offset < 0) return Buffer.alloc(0);
  const padding = packet[0]! & 0x20 ? packet[packet.length - 1]! : 0;
  return packet.subarray(offset, Math.max(offset, packet.length - padding));
}

/** VP8 (RFC 7741): strips each packet's payload descriptor; null unless the frame is complete. */
function assembleVp8(packets: Buffer[]): Buffer | null {
  const sorted = packets.sort((a, b) => ((sequenceOf(a) - sequenceOf(b) + 0x8000) & 0xffff) - 0x8000);
  const first = rtpPayload(sorted[0]!);
  const last = sorted[sorted.length - 1]!;
  if ((first[0]! & 0x10) === 0 || (first[0]! & 0x0f) !== 0 || (last[1]! & 0x80) === 0) return null;
  for (let i = 1; i < sorted.length; i++) {
    if (((sequenceOf(sorted[i]!) - sequenceOf(sorted[i - 1]!)) & 0xffff) !== 1) return null;
  }
  return Buffer.concat(sorted.map((p) => vp8Data(rtpPayload(p))));
}

function vp8Data(payload: Buffer): Buffer {
  let i = 1;
  if (payload[0]! & 0x80) {
    const extension = payload[1]!;
    i = 2;
    if (extension & 0x80) i += payload[i]! & 0x80 ? 2 : 1;
    if (extension & 0x40) i += 1;
    if (extension & 0x30) i += 1;
  }
  return payload.subarray(i);
}

/** Shannon entropy in bits per byte. */
export function entropy(bytes: Uint8Array): number {
  const counts = new Array<number>(256).fill(0);
  for (const b of bytes) counts[b]!++;
  let bits = 0;
  for (const c of counts) {
    if (c === 0) continue;
    const p = c / bytes.length;
    bits -= p * Math.log2(p);
  }
  return bits;
}

/** Whether any `window`-byte run of `needle` occurs anywhere in `haystack`. */
export function sharesRun(needle: Uint8Array, haystack: Buffer, window = 16): boolean {
  for (let i = 0; i + window <= needle.length; i += window) {
    if (haystack.indexOf(Buffer.from(needle.subarray(i, i + window))) >= 0) return true;
  }
  return false;
}
