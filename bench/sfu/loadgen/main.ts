/**
 * The load generator: a process of its own (so its CPU never counts as the server's), driven by
 * the benchmark over IPC. On `publish` it publishes every track of the scenario; on `subscribe`
 * it connects more subscribers, a few at a time, and reports `ready` once every subscription has
 * received packets; `snapshot` returns what each subscription has received and lost so far; `stop` closes
 * every connection and ends the process.
 *
 *   forked by bench/sfu/loadgen-process.ts
 */
import { releaseNodeDataChannel, waitFor } from '@conclave/server/media/testing/rtp-peer';
import {
  type FromLoadGenerator,
  type LoadSnapshot,
  type Scenario,
  type ToLoadGenerator,
  type TrackRef,
  trackRef,
} from '../scenario.ts';
import { ConclaveDriver } from './conclave.ts';
import type { LoadDriver, Publication, Subscription } from './driver.ts';
import { JanusDriver } from './janus.ts';

/** How long a new subscription may take to deliver its first packet on a loaded machine. */
const FIRST_PACKET_TIMEOUT_MS = 60_000;
/**
 * Connections tried per publication or subscriber before the run fails. On a loaded machine a
 * DTLS handshake now and then fails ("certificate verify failed"; seen in the server's own tests
 * too): the run retries that connection alone and reports how many retries it needed.
 */
const MAX_ATTEMPTS = 3;

interface CountedSubscription {
  subscriber: string;
  track: TrackRef;
  subscription: Subscription;
}

const publications = new Map<TrackRef, Publication>();
const subscriptions: CountedSubscription[] = [];
const retries: string[] = [];
let driver: LoadDriver | null = null;

function send(message: FromLoadGenerator): void {
  process.send?.(message);
}

let scenario: Scenario | null = null;
let connectedSubscribers = 0;

async function publish(message: Extract<ToLoadGenerator, { type: 'publish' }>): Promise<void> {
  const { connection } = message;
  scenario = message.scenario;
  driver = connection.target === 'conclave' ? new ConclaveDriver(connection) : new JanusDriver(connection);
  await driver.prepare();
  const tracks = scenario.participants.flatMap((p) => p.publish.map((kind) => trackRef(p.id, kind)));
  for (const [index, track] of tracks.entries()) {
    publications.set(track, await withRetries(track, (attempt) => driver!.publish(track, attempt)));
    send({ type: 'progress', phase: 'publications', done: index + 1, total: tracks.length });
  }
  send({ type: 'published', peerConnections: tracks.length });
}

/**
 * Connects the next subscribers (up to `upTo` of them) while the publishers pause, so that setting
 * up hundreds of connections never competes with forwarding for the machine's CPU; then resumes
 * the media and waits until every subscription so far has received packets.
 */
async function subscribe(concurrency: number, upTo: number): Promise<void> {
  const batch = subscribers().slice(connectedSubscribers, upTo);
  for (const { peer } of publications.values()) peer.stop();
  let connected = connectedSubscribers;
  await forEachLimited(batch, concurrency, async ({ id, subscribe }) => {
    const subscription = await withRetries(id, (attempt) => connectSubscriber(id, subscribe, attempt));
    for (const track of subscribe) subscriptions.push({ subscriber: id, track, subscription });
    send({ type: 'progress', phase: 'subscribers', done: ++connected, total: upTo });
  });
  connectedSubscribers = connected;
  // A paused publisher was asked for a keyframe by each new subscription: it starts with one.
  for (const { peer } of publications.values()) peer.start();
  await waitForFirstPackets();
  send({ type: 'ready', peerConnections: connectedSubscribers, retries });
}

function subscribers() {
  return scenario!.participants.filter((p) => p.subscribe.length > 0);
}

async function connectSubscriber(id: string, tracks: TrackRef[], attempt: number): Promise<Subscription> {
  const subscription = await driver!.subscribe(id, tracks, attempt);
  try {
    await subscription.peer.connected();
    return subscription;
  } catch (err) {
    await subscription.close();
    throw err;
  }
}

async function waitForFirstPackets(): Promise<void> {
  const silent = () =>
    subscriptions.filter(({ subscription, track }) => packetsOf(subscription, track).packets === 0);
  await waitFor(() => silent().length === 0, FIRST_PACKET_TIMEOUT_MS, 'first packets').catch(() => {
    const examples = silent()
      .slice(0, 3)
      .map(({ subscriber, track }) => `${subscriber} <- ${track}`);
    throw new Error(`${silent().length} subscriptions received nothing, e.g. ${examples.join(', ')}`);
  });
}

async function withRetries<T>(what: string, connect: (attempt: number) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await connect(attempt);
    } catch (err) {
      if (attempt >= MAX_ATTEMPTS)
        throw new Error(`${what}: ${(err as Error).message} (after ${attempt} attempts)`);
      retries.push(`${what}: ${(err as Error).message}`);
    }
  }
}

function packetsOf(subscription: Subscription, track: TrackRef): { packets: number; lost: number } {
  const mid = subscription.midOf.get(track);
  const stream = mid === undefined ? undefined : subscription.peer.streamForMid(mid);
  return { packets: stream?.packets ?? 0, lost: stream?.sequenceGaps ?? 0 };
}

function snapshot(): LoadSnapshot {
  return {
    tracks: subscriptions.map(({ subscriber, track, subscription }) => ({
      subscriber,
      track,
      ...packetsOf(subscription, track),
    })),
    sent: Object.fromEntries([...publications].map(([track, { peer }]) => [track, peer.stats.packetsSent])),
  };
}

/** Runs `task` over `items` with at most `limit` running at once; the first failure rejects. */
async function forEachLimited<T>(items: T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) await task(items[next++]!);
  });
  await Promise.all(lanes);
}

async function stop(): Promise<void> {
  try {
    for (const { peer } of publications.values()) peer.stop();
    await driver?.close();
  } finally {
    send({ type: 'stopped' });
    await releaseNodeDataChannel();
    process.exit(0);
  }
}

process.on('message', (message: ToLoadGenerator) => {
  const fail = (err: unknown) => send({ type: 'failed', error: (err as Error).message });
  if (message.type === 'publish') {
    publish(message).catch(fail);
  } else if (message.type === 'subscribe') {
    subscribe(message.concurrency, message.upTo).catch(fail);
  } else if (message.type === 'snapshot') {
    send({ type: 'snapshot', snapshot: snapshot() });
  } else if (message.type === 'stop') {
    void stop();
  }
});
// The benchmark went away: nothing will ever ask for results.
process.on('disconnect', () => process.exit(1));
