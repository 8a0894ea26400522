/**
 * A network impairment proxy for tests (there is no `tc netem` here): a UDP relay on loopback
 * between WebRTC clients and the SFU's media port that loses, delays, jitters, rate-limits and
 * duplicates datagrams, separately per direction, with settings that can change mid-call.
 *
 * Wiring: clients send to the proxy's port instead of the SFU's. Each client address gets its
 * own upstream socket, so the SFU sees one distinct peer per client (as through a NAT) and its
 * ICE source-address checks still hold. The client learns the proxy's address because the
 * server's candidates it receives are rewritten (`rewriteServerSdp`, `rewriteServerCandidate`);
 * the client's own candidates are withheld from the server (`stripClientCandidates`), otherwise
 * the SFU would also check (and might pick) the direct path around the proxy. The SFU then learns
 * the client's proxied address as a peer-reflexive candidate from its ICE checks.
 *
 * Per datagram and direction, in order: loss (random or in bursts), the bottleneck (a byte queue
 * drained at the configured bandwidth; a datagram that does not fit is dropped, like a router's
 * tail drop), propagation delay plus jitter (order kept unless `reorder`), then an optional late
 * duplicate (a replay of the same bytes). Test tooling only: nothing in the server imports it.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';

export type Direction = 'toServer' | 'toClient';

export interface LinkImpairment {
  /** Probability (0-1) that a datagram is lost. */
  loss: number;
  /**
   * Mean length of a loss burst in datagrams. 1 (default): independent losses. Above 1 the
   * losses come in bursts (Gilbert model) with the same average `loss`.
   */
  lossBurst: number;
  /** Fixed one-way delay added to every datagram. */
  delayMs: number;
  /** Each datagram's delay varies uniformly within ±jitterMs (never below 0). */
  jitterMs: number;
  /** false (default): jitter never reorders, a datagram waits for the one before it. */
  reorder: boolean;
  /** Bottleneck rate in bits per second; 0 = unlimited. */
  bandwidthBps: number;
  /** Bytes the bottleneck may hold waiting; a datagram that does not fit is dropped. */
  queueBytes: number;
  /** Probability (0-1) that a datagram is also sent again later: a replay of the same bytes. */
  duplicate: number;
  /** How long after the original a duplicate leaves. */
  duplicateDelayMs: number;
}

export const NO_IMPAIRMENT: Readonly<LinkImpairment> = Object.freeze({
  loss: 0,
  lossBurst: 1,
  delayMs: 0,
  jitterMs: 0,
  reorder: false,
  bandwidthBps: 0,
  queueBytes: 64 * 1024,
  duplicate: 0,
  duplicateDelayMs: 20,
});

export interface LinkCounters {
  /** Datagrams that arrived at the proxy in this direction. */
  received: number;
  bytesReceived: number;
  /** Datagrams sent on (duplicates included). */
  forwarded: number;
  bytesForwarded: number;
  /** Lost on purpose (loss, burst loss). */
  dropped: number;
  /** Dropped because the bottleneck queue was full. */
  queueDropped: number;
  /** Extra copies sent. */
  duplicated: number;
}

export interface ImpairmentProxyOptions {
  /** The SFU's media address and port (ICE UDP mux). */
  target: { address: string; port: number };
  /** Address the proxy listens on (default 127.0.0.1; keep it on loopback). */
  bindAddress?: string;
  toServer?: Partial<LinkImpairment>;
  toClient?: Partial<LinkImpairment>;
  /** Seed of the proxy's random numbers, so a run's losses can be reproduced. */
  seed?: number;
  /** Most distinct client addresses relayed; datagrams from further ones are dropped. */
  maxClients?: number;
}

/** Limits of the tool itself, so a runaway test cannot make it grow without bound. */
const DEFAULT_MAX_CLIENTS = 64;
const MAX_SCHEDULED = 100_000;

export class ImpairmentProxy {
  readonly address: string;
  readonly #socket: Socket;
  readonly #target: { address: string; port: number };
  readonly #maxClients: number;
  readonly #upstreams = new Map<string, Socket>();
  /** Client addresses whose path was cut (cutCurrentPaths): dropped both ways from then on. */
  readonly #cut = new Set<string>();
  readonly #links: Record<Direction, Link>;
  #closed = false;

  private constructor(socket: Socket, options: ImpairmentProxyOptions) {
    this.#socket = socket;
    this.address = socket.address().address;
    this.#target = options.target;
    this.#maxClients = options.maxClients ?? DEFAULT_MAX_CLIENTS;
    const random = seededRandom(options.seed ?? Date.now());
    this.#links = {
      toServer: new Link({ ...NO_IMPAIRMENT, ...options.toServer }, random),
      toClient: new Link({ ...NO_IMPAIRMENT, ...options.toClient }, random),
    };
    socket.on('message', (data, from) => this.#fromClient(data, from));
  }

  static async start(options: ImpairmentProxyOptions): Promise<ImpairmentProxy> {
    const socket = createSocket('udp4');
    socket.on('error', () => {}); // ICMP errors on loopback (a peer gone) are not the proxy's failure.
    await new Promise<void>((resolve) => socket.bind(0, options.bindAddress ?? '127.0.0.1', resolve));
    return new ImpairmentProxy(socket, options);
  }

  /** The port clients must send to instead of the SFU's. */
  get port(): number {
    return this.#socket.address().port;
  }

  /** Changes the given settings of one or both directions from now on; the rest stay as they are. */
  configure(direction: Direction | 'both', settings: Partial<LinkImpairment>): void {
    for (const d of direction === 'both' ? (['toServer', 'toClient'] as const) : [direction]) {
      this.#links[d].configure(settings);
    }
  }

  settings(direction: Direction): Readonly<LinkImpairment> {
    return this.#links[direction].settings;
  }

  /** A snapshot of one direction's counters. */
  counters(direction: Direction): LinkCounters {
    return { ...this.#links[direction].counters };
  }

  /** Distinct client addresses relayed so far (one upstream socket each). */
  get clients(): number {
    return this.#upstreams.size;
  }

  /**
   * The server's SDP with its candidate for the target pointing at the proxy instead, and its
   * other candidates (e.g. the worker's tie-breaker relay) removed: nothing may bypass the proxy.
   */
  rewriteServerSdp(sdp: string): string {
    const proxy = { address: this.address, port: this.port };
    return onlyCandidatesAt(rewriteCandidates(sdp, this.#target, proxy), proxy);
  }

  /** A single server candidate string (`candidate:...`), for trickled candidates. */
  rewriteServerCandidate(candidate: string): string {
    return rewriteCandidates(candidate, this.#target, { address: this.address, port: this.port });
  }

  /**
   * Hands to test participants what they need to route through the proxy: server SDP rewritten
   * on the way in, client SDP stripped of its candidates on the way out.
   */
  get sdpFilter(): SdpFilter {
    return {
      fromServer: (sdp) => this.rewriteServerSdp(sdp),
      toServer: (sdp) => stripClientCandidates(sdp),
    };
  }

  /** For a browser participant (e2e support's `mediaRoute`): which candidate port to replace by which. */
  get route(): { address: string; serverPort: number; proxyPort: number } {
    return { address: this.#target.address, serverPort: this.#target.port, proxyPort: this.port };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const link of Object.values(this.#links)) link.close();
    const sockets = [this.#socket, ...this.#upstreams.values()];
    this.#upstreams.clear();
    await Promise.all(sockets.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }

  /**
   * A network change: every client path relayed so far goes dead for good (its datagrams are
   * dropped both ways), as when a laptop moves from Wi-Fi to a cable. Clients get through again
   * only from a new address, that is, on a new connection.
   */
  cutCurrentPaths(): void {
    for (const [key, upstream] of this.#upstreams) {
      this.#cut.add(key);
      upstream.close();
    }
    this.#upstreams.clear();
  }

  #fromClient(data: Buffer, from: RemoteInfo): void {
    const upstream = this.#upstreamFor(from);
    if (!upstream) return;
    this.#links.toServer.pass(data, (out) =>
      this.#send(upstream, out, this.#target.port, this.#target.address),
    );
  }

  #upstreamFor(client: RemoteInfo): Socket | null {
    const key = `${client.address}:${client.port}`;
    const existing = this.#upstreams.get(key);
    if (existing || this.#closed || this.#cut.has(key)) return existing ?? null;
    // Chromium also sends connectivity checks to the proxy's loopback port from its host
    // candidates on other interfaces (measured: from the machine's eth0 address). Relaying them
    // would answer that address: tests talk to loopback only, so those checks go nowhere.
    if (!/^127\./.test(client.address) && client.address !== '::1') return null;
    if (this.#upstreams.size >= this.#maxClients) return null;
    const upstream = createSocket('udp4');
    upstream.on('error', () => {});
    upstream.on('message', (data, from) => {
      // Only the SFU may answer through a client's upstream socket.
      if (from.port !== this.#target.port || from.address !== this.#target.address) return;
      this.#links.toClient.pass(data, (out) => this.#send(this.#socket, out, client.port, client.address));
    });
    upstream.bind(0, this.address);
    this.#upstreams.set(key, upstream);
    return upstream;
  }

  #send(socket: Socket, data: Buffer, port: number, address: string): void {
    if (this.#closed) return;
    try {
      socket.send(data, port, address);
    } catch {
      // The socket closed under a pending timer: the datagram is simply gone, as on a real link.
    }
  }
}

/** How test participants adapt the SDP they exchange with the server (see ImpairmentProxy.sdpFilter). */
export interface SdpFilter {
  /** Applied to every description received from the server before it is used. */
  fromServer(sdp: string): string;
  /** Applied to every description before it is sent to the server. */
  toServer(sdp: string): string;
}

const CANDIDATE = /(candidate:\S+ \d+ udp \d+ )(\S+) (\d+)( typ )/gi;

/** Candidates at exactly `from` (address and port) now point at `to`; other candidates are kept. */
export function rewriteCandidates(
  text: string,
  from: { address: string; port: number },
  to: { address: string; port: number },
): string {
  return text.replace(CANDIDATE, (whole, head: string, address: string, port: string, tail: string) =>
    address === from.address && Number(port) === from.port ? `${head}${to.address} ${to.port}${tail}` : whole,
  );
}

/** Removes the candidate lines of `sdp` that are not at `at` (address and port). */
export function onlyCandidatesAt(sdp: string, at: { address: string; port: number }): string {
  return sdp
    .split(/\r\n|\n/)
    .filter((line) => {
      if (!line.startsWith('a=candidate:')) return true;
      const [, , , , address, port] = line.split(' ');
      return address === at.address && Number(port) === at.port;
    })
    .join('\r\n');
}

/** Removes every candidate line (and end-of-candidates) from a client's SDP. */
export function stripClientCandidates(sdp: string): string {
  return sdp
    .split(/\r\n|\n/)
    .filter((line) => !line.startsWith('a=candidate:') && line !== 'a=end-of-candidates')
    .join('\r\n');
}

interface Scheduled {
  at: number;
  data: Buffer;
  send: (data: Buffer) => void;
}

/** One direction of the impaired path. */
class Link {
  settings: LinkImpairment;
  readonly counters: LinkCounters = {
    received: 0,
    bytesReceived: 0,
    forwarded: 0,
    bytesForwarded: 0,
    dropped: 0,
    queueDropped: 0,
    duplicated: 0,
  };
  readonly #random: () => number;
  /** Gilbert model state: true while inside a loss burst. */
  #inBurst = false;
  /** When the bottleneck has finished serialising everything accepted so far. */
  #bottleneckFreeAt = 0;
  /** Departure time of the last datagram scheduled (keeps order when reorder is off). */
  #lastDeparture = 0;
  /** Pending departures, sorted by time. */
  readonly #queue: Scheduled[] = [];
  #timer: NodeJS.Timeout | null = null;
  #timerAt = Number.POSITIVE_INFINITY;

  constructor(settings: LinkImpairment, random: () => number) {
    this.settings = validated(settings);
    this.#random = random;
  }

  configure(settings: Partial<LinkImpairment>): void {
    this.settings = validated({ ...this.settings, ...settings });
  }

  pass(data: Buffer, send: (data: Buffer) => void): void {
    this.counters.received++;
    this.counters.bytesReceived += data.length;
    if (this.#lost()) {
      this.counters.dropped++;
      return;
    }
    const now = performance.now();
    const leavesBottleneck = this.#throughBottleneck(data.length, now);
    if (leavesBottleneck === null) {
      this.counters.queueDropped++;
      return;
    }
    const departure = this.#departure(leavesBottleneck);
    this.#schedule(departure, data, send, now);
    if (this.settings.duplicate > 0 && this.#random() < this.settings.duplicate) {
      this.counters.duplicated++;
      this.#schedule(departure + this.settings.duplicateDelayMs, Buffer.from(data), send, now);
    }
  }

  close(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#queue.length = 0;
  }

  #lost(): boolean {
    const { loss, lossBurst } = this.settings;
    if (loss <= 0) return false;
    if (lossBurst <= 1) return this.#random() < loss;
    // Gilbert model: leave a burst with probability 1/meanBurst, enter one with the probability
    // that makes the long-run share of lost datagrams equal to `loss`.
    const leave = 1 / lossBurst;
    const enter = Math.min(1, (loss * leave) / Math.max(1e-9, 1 - loss));
    this.#inBurst = this.#inBurst ? this.#random() >= leave : this.#random() < enter;
    return this.#inBurst;
  }

  /** When the datagram has been serialised by the bottleneck, or null when its queue is full. */
  #throughBottleneck(bytes: number, now: number): number | null {
    const { bandwidthBps, queueBytes } = this.settings;
    if (bandwidthBps <= 0) return now;
    const msPerByte = 8000 / bandwidthBps;
    const start = Math.max(now, this.#bottleneckFreeAt);
    const queued = (start - now) / msPerByte;
    if (queued + bytes > queueBytes) return null;
    this.#bottleneckFreeAt = start + bytes * msPerByte;
    return this.#bottleneckFreeAt;
  }

  #departure(leavesBottleneck: number): number {
    const { delayMs, jitterMs, reorder } = this.settings;
    const jitter = jitterMs > 0 ? (this.#random() * 2 - 1) * jitterMs : 0;
    let departure = leavesBottleneck + Math.max(0, delayMs + jitter);
    if (!reorder) departure = Math.max(departure, this.#lastDeparture);
    this.#lastDeparture = Math.max(this.#lastDeparture, departure);
    return departure;
  }

  #schedule(at: number, data: Buffer, send: (data: Buffer) => void, now: number): void {
    if (at <= now && this.#queue.length === 0) {
      this.#deliver(data, send);
      return;
    }
    if (this.#queue.length >= MAX_SCHEDULED) {
      this.counters.queueDropped++;
      return;
    }
    insertSorted(this.#queue, { at, data, send });
    this.#arm();
  }

  #arm(): void {
    const next = this.#queue[0];
    if (!next || next.at >= this.#timerAt) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timerAt = next.at;
    this.#timer = setTimeout(() => this.#flush(), Math.max(0, next.at - performance.now()));
  }

  #flush(): void {
    this.#timer = null;
    this.#timerAt = Number.POSITIVE_INFINITY;
    // Timers fire with millisecond granularity: send what is due within half a millisecond.
    const due = performance.now() + 0.5;
    let sent = 0;
    while (sent < this.#queue.length && (this.#queue[sent] as Scheduled).at <= due) {
      const item = this.#queue[sent] as Scheduled;
      this.#deliver(item.data, item.send);
      sent++;
    }
    this.#queue.splice(0, sent);
    this.#arm();
  }

  #deliver(data: Buffer, send: (data: Buffer) => void): void {
    this.counters.forwarded++;
    this.counters.bytesForwarded += data.length;
    send(data);
  }
}

/** Inserts by time, after any item with the same time (FIFO among equals); appends in O(1) when in order. */
function insertSorted(queue: Scheduled[], item: Scheduled): void {
  const last = queue[queue.length - 1];
  if (!last || last.at <= item.at) {
    queue.push(item);
    return;
  }
  let low = 0;
  let high = queue.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if ((queue[mid] as Scheduled).at <= item.at) low = mid + 1;
    else high = mid;
  }
  queue.splice(low, 0, item);
}

function validated(s: LinkImpairment): LinkImpairment {
  const probability = (name: keyof LinkImpairment, value: number) => {
    if (!(value >= 0 && value <= 1)) throw new TypeError(`${name} must be between 0 and 1, got ${value}`);
  };
  const nonNegative = (name: keyof LinkImpairment, value: number) => {
    if (!(value >= 0 && Number.isFinite(value))) throw new TypeError(`${name} must be >= 0, got ${value}`);
  };
  probability('loss', s.loss);
  probability('duplicate', s.duplicate);
  if (!(s.lossBurst >= 1)) throw new TypeError(`lossBurst must be >= 1, got ${s.lossBurst}`);
  nonNegative('delayMs', s.delayMs);
  nonNegative('jitterMs', s.jitterMs);
  nonNegative('bandwidthBps', s.bandwidthBps);
  nonNegative('queueBytes', s.queueBytes);
  nonNegative('duplicateDelayMs', s.duplicateDelayMs);
  return Object.freeze({ ...s }) as LinkImpairment;
}

/** mulberry32: small, fast and good enough to decide which datagrams a test link loses. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
