/**
 * Test stand-ins for the control plane's key lookup, sessions and revocations (in memory), and
 * a forger that signs any header and payload, so each rejection rule can be hit on its own.
 * The integration tests in test/rest use the real control plane instead.
 */
import { createHmac, generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';
import type { Session } from '@conclave/protocol/rest';
import type { ParticipantTokenDeps } from '../../src/control/tokens/index.ts';
import type { VerificationKeys } from '../../src/control/types.ts';

export const NOW_MS = Date.UTC(2026, 0, 15, 12, 0, 0);
export const NOW = NOW_MS / 1000;

export interface SecretApp {
  appId: string;
  apiKey: string;
  secret: string;
}

/** Test stand-in for the control plane, holding apps, sessions and revocations in memory. */
export class InMemoryControl {
  readonly keys = new Map<string, VerificationKeys>();
  readonly sessionOwner = new Map<string, string>();
  readonly revokedJtis = new Set<string>();
  readonly revokedIdentities = new Map<string, number>();

  addSecretApp(name: string, ...secrets: string[]): SecretApp {
    const app = {
      appId: `app_${name}`,
      apiKey: `ck_${name}`,
      secret: secrets[0] ?? randomBytes(32).toString('base64url'),
    };
    const all = secrets.length > 0 ? secrets : [app.secret];
    this.keys.set(app.apiKey, {
      appId: app.appId,
      apiKey: app.apiKey,
      secrets: all.map((s) => Buffer.from(s, 'utf8')),
      publicKey: null,
    });
    return app;
  }

  addKeyApp(name: string, algorithm: 'EdDSA' | 'ES256') {
    const pair =
      algorithm === 'EdDSA'
        ? generateKeyPairSync('ed25519')
        : generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const app = {
      appId: `app_${name}`,
      apiKey: `ck_${name}`,
      privateKey: pair.privateKey,
      publicKey: pair.publicKey,
    };
    this.keys.set(app.apiKey, {
      appId: app.appId,
      apiKey: app.apiKey,
      secrets: [],
      publicKey: { algorithm, key: pair.publicKey },
    });
    return app;
  }

  addSession(appId: string, sessionId: string): void {
    this.sessionOwner.set(sessionId, appId);
  }

  deps(overrides: Partial<ParticipantTokenDeps> = {}): ParticipantTokenDeps {
    return {
      apps: { verificationKeys: async (apiKey) => this.keys.get(apiKey) ?? null },
      sessions: {
        get: async (appId, sessionId) =>
          this.sessionOwner.get(sessionId) === appId ? ({ id: sessionId } as Session) : null,
      },
      revocations: {
        isRevoked: async (sessionId, token) =>
          this.revokedJtis.has(`${sessionId} ${token.jti}`) ||
          (this.revokedIdentities.get(`${sessionId} ${token.sub}`) ?? -1) >= token.iat,
      },
      tokens: { maxLifetimeSeconds: 3600, clockSkewSeconds: 30 },
      now: () => NOW_MS,
      ...overrides,
    };
  }
}

export type ForgeKey =
  | { hmac: string | Buffer }
  | { ed25519: KeyObject }
  | { p256: KeyObject; encoding?: 'ieee-p1363' | 'der' }
  | { raw: string };

/** Signs exactly the header and payload given: no defaults, no validation. */
export function forge(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  key: ForgeKey,
): string {
  const input = `${b64(JSON.stringify(header))}.${b64(JSON.stringify(payload))}`;
  return `${input}.${signatureOf(input, key)}`;
}

function signatureOf(input: string, key: ForgeKey): string {
  if ('raw' in key) return key.raw;
  if ('hmac' in key) return createHmac('sha256', key.hmac).update(input).digest('base64url');
  if ('ed25519' in key) return sign(null, Buffer.from(input), key.ed25519).toString('base64url');
  return sign('sha256', Buffer.from(input), {
    key: key.p256,
    dsaEncoding: key.encoding ?? 'ieee-p1363',
  }).toString('base64url');
}

export function b64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}

export function participantClaims(apiKey: string, sessionId: string, extra: Record<string, unknown> = {}) {
  return {
    iss: apiKey,
    sub: 'user-1',
    sid: sessionId,
    role: 'publisher',
    iat: NOW,
    nbf: NOW,
    exp: NOW + 600,
    jti: randomBytes(16).toString('base64url'),
    ...extra,
  };
}
