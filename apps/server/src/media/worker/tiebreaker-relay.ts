/**
 * Lets browsers that reach the SFU through TURN over TCP or TLS connect at all.
 *
 * Chromium (seen with 152 and 156) sends its connectivity checks from a TCP or TLS TURN allocation
 * with ICE-CONTROLLING / ICE-CONTROLLED carrying a tie-breaker of 0. RFC 8445 allows any 64-bit
 * value, but libjuice (node-datachannel 0.33.4) stores the attributes as numbers and treats 0 as
 * "absent", so it answers every such check with 400 ("Controlling and controlled attributes
 * mismatch in request", libjuice issue 355, fix not released). Chromium then fails the pair and no
 * media flows. The same browser over TURN/UDP sends a random tie-breaker and works.
 *
 * The native library cannot be patched from here, so each worker runs this small UDP relay next to
 * its ICE port and advertises it as one more host candidate of lower priority. For a check whose
 * tie-breaker is 0 (and whose signature verifies with the connection's own ICE password) the relay
 * puts 1 in its place (the smallest value that libjuice reads as present, so a role conflict
 * still resolves the way a 0 would), signs the check again and forwards it to the ICE port from a
 * socket of its own per remote address. From then on it relays that remote's datagrams (DTLS,
 * SRTP) both ways. Checks with a non-zero tie-breaker are dropped: those browsers reach the ICE
 * port directly, and relaying them would only cost CPU. Nothing unauthenticated opens a socket.
 *
 * The rewritten checks also carry the highest PRIORITY, so that when the SFU is the controlling
 * agent (subscriber connections) it prefers the relayed pair over the direct pair, which libjuice
 * also sees succeed but which the browser has already failed.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import {
  BINDING_SUCCESS,
  hasValidIntegrity,
  hasZeroTiebreaker,
  isStun,
  parseIceCheck,
  receiverUfrag,
  resignCheck,
} from './ice-check.ts';

/** Limits (explicit, per worker). */
export const TIEBREAKER_RELAY_LIMITS = {
  /** Remote addresses relayed at once; more are refused (each costs one UDP socket). */
  maxSessions: 500,
  /** A relayed remote silent this long is forgotten (consent checks come every few seconds). */
  sessionIdleMs: 30_000,
  /** Local ICE credentials kept for connections created this recently or relayed this recently. */
  credentialTtlMs: 120_000,
  maxCredentials: 20_000,
} as const;

const REPAIRED_TIEBREAKER = 1n;
const HIGHEST_PRIORITY = 0xffffffff;

interface Session {
  remote: { address: string; port: number };
  socket: Socket;
  lastSeen: number;
  /** The SFU connection's ICE password, from the check that opened the session. */
  password: string;
}

export interface TiebreakerRelayOptions {
  bindAddress: string;
  /** The worker's ICE UDP mux port, where relayed datagrams go. */
  icePort: number;
  /** UDP port to bind; 0 or absent: a free one. */
  port?: number;
  limits?: Partial<typeof TIEBREAKER_RELAY_LIMITS>;
}

export class TiebreakerRelay {
  readonly #options: TiebreakerRelayOptions;
  readonly #limits: typeof TIEBREAKER_RELAY_LIMITS;
  readonly #front: Socket;
  readonly #iceAddress: string;
  readonly #sessions = new Map<string, Session>();
  readonly #passwords = new Map<string, { password: string; lastUsed: number }>();
  readonly #sweeper: NodeJS.Timeout;
  #port = 0;
  #closed = false;
  /** Datagrams relayed towards the ICE port, and checks repaired (diagnostics and tests). */
  relayedIn = 0;
  repairedChecks = 0;

  constructor(options: TiebreakerRelayOptions) {
    this.#options = options;
    this.#limits = { ...TIEBREAKER_RELAY_LIMITS, ...options.limits };
    const ipv6 = options.bindAddress.includes(':');
    // A wildcard-bound ICE port is reached through loopback from the same host.
    this.#iceAddress = isWildcard(options.bindAddress) ? (ipv6 ? '::1' : '127.0.0.1') : options.bindAddress;
    this.#front = createSocket(ipv6 ? 'udp6' : 'udp4');
    this.#front.on('error', (error) => console.error('media: tie-breaker relay socket error', error.message));
    this.#front.on('message', (datagram, from) => this.#safely(() => this.#fromRemote(datagram, from)));
    this.#front.bind(options.port ?? 0, options.bindAddress, () => {
      this.#port = this.#front.address().port;
    });
    this.#sweeper = setInterval(() => this.#safely(() => this.#sweep()), 5_000);
    this.#sweeper.unref();
  }

  /** The relay's UDP port; 0 until bound (descriptions made before then carry no relay candidate). */
  get port(): number {
    return this.#port;
  }

  get sessionCount(): number {
    return this.#sessions.size;
  }

  /**
   * Takes a local description the worker is about to hand out: remembers its ICE credentials (to
   * verify and re-sign checks) and returns it with a relay candidate after each host candidate on
   * the ICE port.
   */
  advertise(sdp: string): string {
    const ufrag = /^a=ice-ufrag:(\S+)/m.exec(sdp)?.[1];
    const password = /^a=ice-pwd:(\S+)/m.exec(sdp)?.[1];
    if (!ufrag || !password || this.#port === 0 || this.#closed) return sdp;
    this.#rememberPassword(ufrag, password);
    return addRelayCandidates(sdp, this.#options.icePort, this.#port);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#sweeper);
    for (const session of this.#sessions.values()) session.socket.close();
    this.#sessions.clear();
    this.#front.close();
  }

  #fromRemote(datagram: Buffer, from: RemoteInfo): void {
    const key = `${from.address}|${from.port}`;
    let session = this.#sessions.get(key);
    let outgoing: Buffer | null = session ? datagram : null;
    let password = session?.password ?? '';
    if (isStun(datagram)) {
      const repaired = this.#repair(datagram);
      if (repaired) [outgoing, password] = repaired;
    }
    if (!outgoing) return;
    session ??= this.#openSession(key, from, password) ?? undefined;
    if (!session) return;
    session.lastSeen = Date.now();
    this.relayedIn++;
    session.socket.send(outgoing, this.#options.icePort, this.#iceAddress);
  }

  /** The re-signed check and its password when it is one of ours with a zero tie-breaker. */
  #repair(datagram: Buffer): [Buffer, string] | null {
    const check = parseIceCheck(datagram);
    if (!check || !hasZeroTiebreaker(check)) return null;
    const entry = this.#passwords.get(receiverUfrag(check));
    if (!entry || !hasValidIntegrity(check, entry.password)) return null;
    entry.lastUsed = Date.now();
    this.repairedChecks++;
    const change = { tiebreaker: REPAIRED_TIEBREAKER, priority: HIGHEST_PRIORITY };
    return [resignCheck(check, entry.password, change), entry.password];
  }

  #openSession(key: string, from: RemoteInfo, password: string): Session | null {
    if (this.#closed || !password || this.#sessions.size >= this.#limits.maxSessions) return null;
    const socket = createSocket(from.family === 'IPv6' ? 'udp6' : 'udp4');
    const remote = { address: from.address, port: from.port };
    const session: Session = { remote, socket, lastSeen: Date.now(), password };
    socket.on('error', () => this.#closeSession(key));
    socket.on('message', (datagram, source) =>
      this.#safely(() => {
        // Only the ICE port speaks on this socket; anything else is dropped.
        if (source.port !== this.#options.icePort || source.address !== this.#iceAddress) return;
        session.lastSeen = Date.now();
        this.#front.send(this.#towardsRemote(datagram, session), remote.port, remote.address);
      }),
    );
    socket.bind(0, this.#iceAddress);
    this.#sessions.set(key, session);
    return session;
  }

  /**
   * The SFU's Binding responses name the address it saw, which is this session's socket. The
   * browser would take that for a new (peer-reflexive) local candidate of its own; it is told the
   * address the relay saw instead, its TURN relay address, as a direct path would have.
   */
  #towardsRemote(datagram: Buffer, session: Session): Buffer {
    if (!isStun(datagram)) return datagram;
    const response = parseIceCheck(datagram, BINDING_SUCCESS);
    if (!response || !hasValidIntegrity(response, session.password)) return datagram;
    return resignCheck(response, session.password, { mapped: session.remote });
  }

  #closeSession(key: string): void {
    const session = this.#sessions.get(key);
    if (!session) return;
    this.#sessions.delete(key);
    session.socket.close();
  }

  #rememberPassword(ufrag: string, password: string): void {
    if (this.#passwords.size >= this.#limits.maxCredentials) {
      const oldest = this.#passwords.keys().next().value;
      if (oldest !== undefined) this.#passwords.delete(oldest);
    }
    this.#passwords.set(ufrag, { password, lastUsed: Date.now() });
  }

  #sweep(): void {
    const now = Date.now();
    for (const [key, session] of this.#sessions) {
      if (now - session.lastSeen > this.#limits.sessionIdleMs) this.#closeSession(key);
    }
    for (const [ufrag, entry] of this.#passwords) {
      if (now - entry.lastUsed > this.#limits.credentialTtlMs) this.#passwords.delete(ufrag);
    }
  }

  /** Bad input from the network never takes the worker down. */
  #safely(body: () => void): void {
    try {
      body();
    } catch (error) {
      console.error('media: tie-breaker relay dropped a datagram', error);
    }
  }
}

function isWildcard(address: string): boolean {
  return address === '0.0.0.0' || address === '::';
}

const HOST_CANDIDATE = /^a=candidate:(\S+) (\d+) (udp) (\d+) (\S+) (\d+) typ host(.*)$/i;

/**
 * After every UDP host candidate on the ICE port, the same address on the relay port with a
 * slightly higher priority (local preference + 1). Browsers then check the relay first: a browser
 * with a working tie-breaker is dropped there and connects directly one pacing step later, while
 * a browser on TURN/TCP has its check repaired and the SFU learns the relayed path before the
 * direct one, which it could otherwise nominate (see the module comment).
 */
export function addRelayCandidates(sdp: string, icePort: number, relayPort: number): string {
  const eol = sdp.includes('\r\n') ? '\r\n' : '\n';
  const out: string[] = [];
  for (const line of sdp.split(eol)) {
    const m = HOST_CANDIDATE.exec(line);
    if (m && Number(m[6]) === icePort) {
      const [, foundation, component, transport, priority, address, , rest] = m;
      const raised = Math.min(Number(priority) + 0x100, 0x7fffffff);
      out.push(
        `a=candidate:${foundation}r ${component} ${transport} ${raised} ${address} ${relayPort} typ host${rest}`,
      );
    }
    out.push(line);
  }
  return out.join(eol);
}
