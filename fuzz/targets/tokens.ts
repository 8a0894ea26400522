/**
 * Participant and REST token verification (apps/server/src/control/tokens): compact JWS read
 * strictly, HS256 / EdDSA / ES256, claims, time window, session binding. Contract: a verified
 * token, or ConclaveError with a token_* code; and a token that verifies is byte for byte one the
 * application really signed (no mutation of a genuine token is ever accepted).
 *
 * Input: first byte picks the mode. Mode 0: the rest is a token string as-is. Otherwise the rest
 * is a list of (position, byte) edits applied to a genuine token of the selected application.
 */
import {
  createHmac,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
} from 'node:crypto';
import type { Session } from '@conclave/protocol/rest';
import {
  ReplayCache,
  verifyApiToken,
  verifyParticipantToken,
} from '../../apps/server/src/control/tokens/index.ts';
import type { VerificationKeys } from '../../apps/server/src/control/types.ts';
import { ContractViolation, check, InputReader } from './contract.ts';

export const NOW_SECONDS = Date.UTC(2026, 0, 15, 12, 0, 0) / 1000;
export const SESSION_ID = 'ses_fuzz0000000000000000000000';
/** A fixed HMAC secret, so corpus tokens signed with it keep verifying across runs. */
export const FUZZ_SECRET = 'fuzz-secret-0123456789abcdefghijklmnopqrstuvwxyz';

// A fixed Ed25519 key (PKCS#8 prefix + 32-byte seed), for the same reason.
const ed25519Private = createPrivateKey({
  key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.alloc(32, 7)]),
  format: 'der',
  type: 'pkcs8',
});
const p256 = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });

const KEYS: VerificationKeys[] = [
  { appId: 'app_hs', apiKey: 'ck_hs', secrets: [Buffer.from(FUZZ_SECRET)], publicKey: null },
  {
    appId: 'app_ed',
    apiKey: 'ck_ed',
    secrets: [],
    publicKey: { algorithm: 'EdDSA', key: createPublicKey(ed25519Private) },
  },
  { appId: 'app_es', apiKey: 'ck_es', secrets: [], publicKey: { algorithm: 'ES256', key: p256.publicKey } },
];

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

function signToken(alg: 'HS256' | 'EdDSA' | 'ES256', payload: Record<string, unknown>): string {
  const input = `${b64({ alg, typ: 'JWT' })}.${b64(payload)}`;
  let signature: Buffer;
  if (alg === 'HS256') signature = createHmac('sha256', FUZZ_SECRET).update(input).digest();
  else if (alg === 'EdDSA') signature = sign(null, Buffer.from(input), ed25519Private);
  else
    signature = sign('sha256', Buffer.from(input), {
      key: p256.privateKey as KeyObject,
      dsaEncoding: 'ieee-p1363',
    });
  return `${input}.${signature.toString('base64url')}`;
}

export function participantToken(alg: 'HS256' | 'EdDSA' | 'ES256', apiKey: string): string {
  return signToken(alg, {
    iss: apiKey,
    sub: 'user-1',
    sid: SESSION_ID,
    role: 'publisher',
    data: 'name=A',
    iat: NOW_SECONDS - 10,
    nbf: NOW_SECONDS - 10,
    exp: NOW_SECONDS + 600,
    jti: `jti-${alg}`,
  });
}

export const GENUINE = [
  participantToken('HS256', 'ck_hs'),
  participantToken('EdDSA', 'ck_ed'),
  participantToken('ES256', 'ck_es'),
  signToken('HS256', { iss: 'ck_hs', iat: NOW_SECONDS, exp: NOW_SECONDS + 60, jti: 'api-1' }),
];
const GENUINE_SET = new Set(GENUINE);

export const participantDeps = {
  apps: { verificationKeys: async (apiKey: string) => KEYS.find((k) => k.apiKey === apiKey) ?? null },
  sessions: { get: async (_appId: string, id: string) => (id === SESSION_ID ? ({ id } as Session) : null) },
  revocations: { isRevoked: async () => false },
  tokens: { maxLifetimeSeconds: 3600, clockSkewSeconds: 30 },
  now: () => NOW_SECONDS * 1000,
};

function tokenFrom(data: Buffer): string {
  const reader = new InputReader(data);
  const mode = reader.byte();
  if (mode === 0) return Buffer.from(reader.rest()).toString('utf8');
  const chars = [...GENUINE[mode % GENUINE.length]!];
  const edits = reader.rest();
  for (let i = 0; i + 1 < edits.length; i += 2) {
    const at = edits[i]! * 2 + (edits[i + 1]! & 1);
    const replacement = String.fromCharCode(edits[i + 1]! >> 1 || 46);
    if (at < chars.length) chars[at] = replacement;
    else chars.push(replacement);
  }
  return chars.join('');
}

/** Token rejections: token_* codes, or session_not_found. Anything else breaks the contract. */
function rejectedAsDocumented(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return (
    error instanceof Error &&
    error.name === 'ConclaveError' &&
    typeof code === 'string' &&
    (code.startsWith('token_') || code === 'session_not_found')
  );
}

async function expectVerdict(what: string, token: string, run: () => Promise<unknown>): Promise<void> {
  try {
    await run();
  } catch (error) {
    if (rejectedAsDocumented(error)) return;
    throw new ContractViolation(
      `${what} threw an undocumented ${(error as Error).name}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  check(GENUINE_SET.has(token), `${what} accepted a token nobody signed: ${token.slice(0, 200)}`);
}

export async function fuzz(data: Buffer): Promise<void> {
  const token = tokenFrom(data);
  await expectVerdict('verifyParticipantToken', token, () =>
    verifyParticipantToken(token, { sessionId: SESSION_ID }, participantDeps),
  );
  await expectVerdict('verifyApiToken', token, () =>
    verifyApiToken(token, {
      apps: participantDeps.apps,
      tokens: { clockSkewSeconds: 30 },
      replay: new ReplayCache(),
      now: participantDeps.now,
    }),
  );
}
