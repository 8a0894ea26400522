/**
 * Load against Conclave as a partner would drive it: the server SDK creates a routed session and
 * mints the tokens; every connection is a NodeClient on the real signaling WebSocket with
 * node-datachannel peers. A published track gets a signaling connection of its own (identity
 * `<participant>:<kind>`), a subscriber one for all its subscriptions, so that one can be
 * retried alone; the media plane sees exactly what a participant publishing both would make.
 */
import { Conclave } from '@conclave/server-sdk';
import { NodeClient } from '../../../apps/server/test/support/node-client.ts';
import { parseTrackRef, type TrackRef } from '../scenario.ts';
import type { LoadDriver, Publication, Subscription } from './driver.ts';

export class ConclaveDriver implements LoadDriver {
  readonly #url: string;
  readonly #sdk: Conclave;
  #sessionId = '';
  readonly #clients = new Set<NodeClient>();
  readonly #streamIds = new Map<TrackRef, string>();

  constructor(connection: { url: string; apiKey: string; apiSecret: string }) {
    this.#url = connection.url;
    this.#sdk = new Conclave({
      url: connection.url,
      apiKey: connection.apiKey,
      apiSecret: connection.apiSecret,
    });
  }

  async prepare(): Promise<void> {
    this.#sessionId = (await this.#sdk.createSession({ mediaMode: 'routed' })).id;
  }

  async publish(track: TrackRef, attempt: number): Promise<Publication> {
    const client = await this.#connect(`${track}#${attempt}`, 'publisher');
    try {
      const { streamId, peer } = await client.publish({
        kind: parseTrackRef(track).kind,
        name: track,
        transportCc: true, // as a browser publisher (driver.ts)
      });
      this.#streamIds.set(track, streamId);
      return { peer, close: () => this.#close(client) };
    } catch (err) {
      await this.#close(client);
      throw err;
    }
  }

  async subscribe(subscriberId: string, tracks: TrackRef[], attempt: number): Promise<Subscription> {
    const client = await this.#connect(`${subscriberId}#${attempt}`, 'subscriber');
    try {
      const midOf = new Map<TrackRef, string>();
      for (const track of tracks) {
        const streamId = this.#streamIds.get(track);
        if (!streamId) throw new Error(`${track} is not published`);
        midOf.set(track, (await client.subscribe(streamId)).mid);
      }
      if (client.offerErrors.length > 0) throw client.offerErrors[0]!;
      const peer = client.subscriberPeer;
      if (!peer) throw new Error(`${subscriberId} has no subscriber connection`);
      return { peer, midOf, close: () => this.#close(client) };
    } catch (err) {
      await this.#close(client);
      throw err;
    }
  }

  async close(): Promise<void> {
    for (const client of [...this.#clients]) await this.#close(client);
  }

  async #connect(identity: string, role: 'publisher' | 'subscriber'): Promise<NodeClient> {
    const token = this.#sdk.createToken(this.#sessionId, { role, identity });
    const client = await NodeClient.connect(this.#url, token, { sessionId: this.#sessionId });
    this.#clients.add(client);
    return client;
  }

  async #close(client: NodeClient): Promise<void> {
    this.#clients.delete(client);
    await client.close();
  }
}
