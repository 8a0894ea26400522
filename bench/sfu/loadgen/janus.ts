/**
 * The same load against Janus's VideoRoom over its HTTP API: one room; each published track is a
 * publisher handle (joinandconfigure with our offer); each subscriber is one subscriber handle
 * that joins with every feed it wants (Janus 1.x multistream), answers Janus's offer, and starts.
 */
import {
  createPublisherPeer,
  createSubscriberPeer,
  type PublisherPeer,
  type SubscriberPeer,
} from '@conclave/server/media/testing/rtp-peer';
import { type JanusHandle, JanusSession } from '../janus/api.ts';
import { parseTrackRef, type TrackRef } from '../scenario.ts';
import type { LoadDriver, Publication, Subscription } from './driver.ts';

const VIDEOROOM = 'janus.plugin.videoroom';

export class JanusDriver implements LoadDriver {
  readonly #url: string;
  #session: JanusSession | null = null;
  readonly #room = 1 + Math.floor(Math.random() * 1e9);
  readonly #feedIds = new Map<TrackRef, number>();
  readonly #open = new Set<() => Promise<void>>();

  constructor(connection: { url: string }) {
    this.#url = connection.url;
  }

  async prepare(): Promise<void> {
    this.#session = await JanusSession.create(this.#url);
    const admin = await this.#session.attach(VIDEOROOM);
    await admin.message({
      request: 'create',
      room: this.#room,
      publishers: 1000,
      audiocodec: 'opus',
      videocodec: 'vp8',
      // Like Conclave's defaults: no bitrate cap, no periodic keyframe requests.
      bitrate: 0,
      fir_freq: 0,
      notify_joining: false,
    });
  }

  async publish(track: TrackRef, attempt: number): Promise<Publication> {
    const handle = await this.#attach();
    const peer = await createPublisherPeer({ kind: parseTrackRef(track).kind, transportCcExtension: true });
    const close = this.#closer(handle, peer);
    try {
      const joined = await handle.message(
        { request: 'joinandconfigure', room: this.#room, ptype: 'publisher', display: `${track}#${attempt}` },
        { type: 'offer', sdp: peer.offer },
      );
      if (!joined.jsep) throw new Error(`janus answered the ${track} offer without SDP`);
      assertLoopbackOnly(joined.jsep.sdp);
      await peer.setAnswer(joined.jsep.sdp);
      this.#feedIds.set(track, Number(joined.data.id));
      peer.start();
      return { peer, close };
    } catch (err) {
      await close();
      throw err;
    }
  }

  async subscribe(_subscriberId: string, tracks: TrackRef[]): Promise<Subscription> {
    const handle = await this.#attach();
    const peer = await createSubscriberPeer();
    const close = this.#closer(handle, peer);
    try {
      const feeds = tracks.map((track) => {
        const feed = this.#feedIds.get(track);
        if (feed === undefined) throw new Error(`${track} is not published`);
        return feed;
      });
      const attached = await handle.message({
        request: 'join',
        ptype: 'subscriber',
        room: this.#room,
        streams: feeds.map((feed) => ({ feed })),
      });
      if (!attached.jsep) throw new Error('janus sent no offer to a subscriber');
      assertLoopbackOnly(attached.jsep.sdp);
      const midOf = new Map<TrackRef, string>();
      for (const stream of attached.data.streams as { mid: string; feed_id: number }[]) {
        const track = tracks[feeds.indexOf(stream.feed_id)];
        if (track) midOf.set(track, stream.mid);
      }
      const answer = await peer.answer(attached.jsep.sdp);
      await handle.message({ request: 'start' }, { type: 'answer', sdp: answer });
      return { peer, midOf, close };
    } catch (err) {
      await close();
      throw err;
    }
  }

  async close(): Promise<void> {
    for (const close of [...this.#open]) await close();
    await this.#session?.destroy();
    this.#session = null;
  }

  #attach(): Promise<JanusHandle> {
    if (!this.#session) throw new Error('janus driver not prepared');
    return this.#session.attach(VIDEOROOM);
  }

  /** Closes our peer and detaches the handle (Janus hangs up its side), once. */
  #closer(handle: JanusHandle, peer: PublisherPeer | SubscriberPeer): () => Promise<void> {
    const close = async () => {
      if (!this.#open.delete(close)) return;
      await peer.close();
      await handle.detach().catch(() => {});
    };
    this.#open.add(close);
    return close;
  }
}

/**
 * The benchmark stays on loopback: if the shim or the configuration ever stopped working, Janus
 * would offer its other interfaces' addresses, and no connectivity check may go there.
 */
function assertLoopbackOnly(sdp: string): void {
  if (!sdp.includes('a=candidate:'))
    throw new Error('janus offered no candidate (loopback shim not effective?)');
  for (const line of sdp.split(/\r?\n/)) {
    if (!line.startsWith('a=candidate:')) continue;
    const address = line.split(' ')[4] ?? '';
    if (!address.startsWith('127.')) throw new Error(`janus offered a non-loopback candidate: ${address}`);
  }
}
