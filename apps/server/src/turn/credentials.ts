/**
 * Short-lived TURN credentials in coturn's shared-secret scheme (`use-auth-secret`, the "TURN
 * REST API" draft): the username is `<expiry unix seconds>:<opaque id>` and the password is
 * base64(HMAC-SHA1(secret, username)). coturn recomputes the HMAC with the same secret and
 * refuses the username once its expiry has passed, so Conclave never stores TURN users and a
 * leaked credential cannot open a relay after the participant's token has expired. (coturn 4.6.1
 * keeps refreshing an allocation opened before the expiry: see docs/operations.md, TURN.)
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { IceServerInfo } from '@conclave/protocol/signaling';

export interface TurnCredentialRequest {
  secret: string;
  /** Who the credential is for. Hashed before it goes into the username: it may be personal. */
  identity: string;
  ttlSeconds: number;
  urls: readonly string[];
  /** Clock for tests; defaults to Date.now(). */
  nowMs?: number;
}

/** The TURN keys of the server configuration this module reads. */
export interface TurnSettings {
  dataDir: string;
  devMode?: boolean;
  turn: {
    enabled: boolean;
    secret: string;
    urls: readonly string[];
    credentialTtlSeconds: number;
    /** Development: coturn runs as a child process on loopback (see coturn-process.ts). */
    spawn?: boolean;
    listenPort?: number;
  };
}

/** Below this remaining lifetime a credential is not worth handing out. */
const MIN_TTL_SECONDS = 1;

/**
 * One ICE server entry carrying every TURN URL (UDP, TCP and TLS share the credential, so the
 * browser tries them all with one username).
 */
export function mintTurnCredentials(request: TurnCredentialRequest): IceServerInfo[] {
  if (request.urls.length === 0) return [];
  if (!request.secret) throw new TypeError('TURN secret is empty');
  const ttl = Math.floor(request.ttlSeconds);
  // NaN (unparseable token expiry) fails this test too: no credential rather than a wrong one.
  if (!(ttl >= MIN_TTL_SECONDS)) return [];
  const nowSeconds = Math.floor((request.nowMs ?? Date.now()) / 1000);
  const username = `${nowSeconds + ttl}:${opaqueId(request.identity)}`;
  return [{ urls: [...request.urls], username, credential: turnPassword(request.secret, username) }];
}

/** The password coturn expects for a `use-auth-secret` username. */
export function turnPassword(secret: string, username: string): string {
  return createHmac('sha1', secret).update(username).digest('base64');
}

/**
 * ICE servers for a joining connection, for the signaling gateway's join reply. The credential
 * never outlives the participant token (an expired participant cannot open a relay with it).
 * Empty when TURN is not configured.
 */
export function turnIceServersFor(
  config: TurnSettings,
  who: { connectionId: string; tokenExpiresAt: Date | string },
  nowMs: number = Date.now(),
): IceServerInfo[] {
  const urls = turnUrls(config);
  if (urls.length === 0) return [];
  const tokenLeftSeconds = Math.floor((toMillis(who.tokenExpiresAt) - nowMs) / 1000);
  const ttlSeconds = Math.min(config.turn.credentialTtlSeconds, tokenLeftSeconds);
  return mintTurnCredentials({
    secret: turnSecret(config),
    identity: who.connectionId,
    ttlSeconds,
    urls,
    nowMs,
  });
}

/**
 * The URLs handed to clients: turn.urls when TURN is enabled. A development server that spawns
 * coturn on loopback (--turn-spawn) and names no URLs points clients at it, so the one flag is
 * enough to try a relayed call.
 */
export function turnUrls(config: TurnSettings): readonly string[] {
  const { turn } = config;
  const spawned = config.devMode === true && turn.spawn === true;
  if (!turn.enabled && !spawned) return [];
  if (turn.urls.length > 0 || !spawned) return turn.urls;
  const port = turn.listenPort ?? 3478;
  return [`turn:127.0.0.1:${port}?transport=udp`, `turn:127.0.0.1:${port}?transport=tcp`];
}

/** Where the generated shared secret lives when turn.secret is empty. */
export function turnSecretFile(config: Pick<TurnSettings, 'dataDir'>): string {
  return join(config.dataDir, 'turn.secret');
}

const secretCache = new Map<string, string>();

/**
 * The secret shared with coturn: turn.secret if set, else dataDir/turn.secret, generated on
 * first use (32 random bytes, hex, mode 0600). Read once per file and cached, so minting a
 * credential on every join does no I/O.
 */
export function turnSecret(config: Pick<TurnSettings, 'dataDir' | 'turn'>): string {
  if (config.turn.secret) return config.turn.secret;
  const file = turnSecretFile(config);
  const cached = secretCache.get(file);
  if (cached) return cached;
  const secret = readOrCreateSecret(file);
  secretCache.set(file, secret);
  return secret;
}

function readOrCreateSecret(file: string): string {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  try {
    // 'wx' fails if the file exists, so two processes starting together keep one secret.
    writeFileSync(file, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  // The secret lets anyone mint TURN credentials: refuse a file others can read, as for TLS keys.
  if ((statSync(file).mode & 0o077) !== 0) {
    throw new Error(`TURN secret file ${file} is readable by group or others: chmod 600 ${file}`);
  }
  const secret = readFileSync(file, 'utf8').trim();
  if (!secret) throw new Error(`TURN secret file ${file} is empty`);
  return secret;
}

/**
 * A stable, non-reversible id for the username: coturn logs usernames, and a participant's
 * identity may be personal data.
 */
function opaqueId(identity: string): string {
  return createHash('sha256').update(identity).digest('base64url').slice(0, 22);
}

/** An ISO string as in the join reply, or a Date; an unparseable expiry yields no credential. */
function toMillis(when: Date | string): number {
  return when instanceof Date ? when.getTime() : Date.parse(when);
}
