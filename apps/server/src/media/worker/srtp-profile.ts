/**
 * libdatachannel does not expose the negotiated SRTP profile through node-datachannel's API; it
 * only logs it ("SRTP profile is: ...", debug level) during the DTLS handshake, without saying
 * which connection it belongs to. The worker routes libdatachannel's log here, queues the
 * profiles it sees, and a connection claims the oldest one when it reports 'connected' (the
 * handshake completes just before). The log and the state change reach JavaScript through
 * separate queues, so under load 'connected' can come first: the claim then waits for the next
 * profile line. With handshakes finishing at the same instant the pairing may
 * swap between two connections; within one worker all server connections negotiate with the same
 * preferences, so the reported profile is still right in practice. It is diagnostics, not policy.
 */
import nodeDataChannel, { type LogLevel } from 'node-datachannel';

const PROFILE_LINE = /SRTP profile is: (\S+)/;
const MAX_QUEUED = 64;

export class SrtpProfileLog {
  readonly #queue: string[] = [];
  /** Connections that reported 'connected' before their profile line arrived, oldest first. */
  readonly #waiting: ((profile: string) => void)[] = [];
  #warnings = 0;
  #windowStart = 0;

  /** Installs the process-wide libdatachannel logger (one per process). */
  install(): void {
    nodeDataChannel.initLogger('Debug', (level: LogLevel, message: string) => {
      try {
        this.#onLog(level, message);
      } catch {
        // never let the logger throw into native code
      }
    });
  }

  #onLog(level: LogLevel, message: string): void {
    const profile = PROFILE_LINE.exec(message);
    if (profile) {
      const name = profile[1]!.replace(/^SRTP_AEAD_/, 'AEAD_');
      const waiter = this.#waiting.shift();
      if (waiter) waiter(name);
      else this.#queue.push(name);
      if (this.#queue.length > MAX_QUEUED) this.#queue.shift();
      return;
    }
    if (level === 'Warning' || level === 'Error' || level === 'Fatal') this.#warn(level, message);
  }

  /** libjuice warns once per datagram from an unknown address: at most 10 lines per second. */
  #warn(level: LogLevel, message: string): void {
    const now = Date.now();
    if (now - this.#windowStart > 1000) {
      this.#windowStart = now;
      this.#warnings = 0;
    }
    if (++this.#warnings <= 10) console.error(`media: libdatachannel ${level}: ${message}`);
  }

  /** Hands the oldest unclaimed profile to `assign`, now or when its log line arrives. */
  claim(assign: (profile: string) => void): void {
    const profile = this.#queue.shift();
    if (profile !== undefined) assign(profile);
    else if (this.#waiting.length < MAX_QUEUED) this.#waiting.push(assign);
  }
}
