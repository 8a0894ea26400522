/**
 * Compact JWS, read strictly. Written on node:crypto rather than a JWT library so that every
 * rule is visible here: the size limit before parsing, a header that may carry only `alg`,
 * `typ` and `kid`, an algorithm allow-list decided by the kind of key the application
 * registered (never by the token), and a constant-time HMAC comparison.
 */
import { createHmac, timingSafeEqual, verify as verifySignatureWith } from 'node:crypto';
import { ConclaveError } from '@conclave/protocol/errors';
import { TOKEN_LIMITS, type TokenAlgorithm } from '@conclave/protocol/tokens';
import type { VerificationKeys } from '../types.ts';

export interface DecodedJws {
  header: { alg: TokenAlgorithm; typ?: 'JWT'; kid?: string };
  payload: Record<string, unknown>;
  /** `base64url(header).base64url(payload)`: the bytes the signature covers. */
  signingInput: string;
  signature: Buffer;
}

const KNOWN_ALGORITHMS: readonly string[] = ['HS256', 'EdDSA', 'ES256'] satisfies TokenAlgorithm[];
const HEADER_KEYS: ReadonlySet<string> = new Set(['alg', 'typ', 'kid']);
const BASE64URL = /^[A-Za-z0-9_-]*$/;

/** Parses without verifying. Throws token_too_large, token_invalid or token_algorithm_refused. */
export function decodeJws(token: string): DecodedJws {
  // Measured in bytes and before any parsing, so a huge token costs nothing to refuse.
  if (Buffer.byteLength(token, 'utf8') > TOKEN_LIMITS.maxTokenBytes)
    throw new ConclaveError('token_too_large');
  const segments = token.split('.');
  if (segments.length !== 3) throw invalid();
  const [headerPart, payloadPart, signaturePart] = segments as [string, string, string];
  const header = readHeader(decodeJsonSegment(headerPart));
  const payload = decodeJsonSegment(payloadPart);
  const signature = decodeSegment(signaturePart);
  if (signature.length === 0) throw invalid();
  return { header, payload, signingInput: `${headerPart}.${payloadPart}`, signature };
}

/**
 * True when the signature verifies with one of the application's keys. The algorithm must be
 * the one its key type allows: a registered public key allows only its own algorithm (so an
 * HS256 token "signed" with the public key PEM as HMAC secret is refused), a shared secret
 * allows only HS256. During a rotation overlap every still-valid secret is tried.
 */
export function verifyJwsSignature(jws: DecodedJws, keys: VerificationKeys): boolean {
  const { alg } = jws.header;
  if (keys.publicKey) {
    if (alg !== keys.publicKey.algorithm) throw new ConclaveError('token_algorithm_refused');
    const data = Buffer.from(jws.signingInput, 'ascii');
    if (alg === 'EdDSA') return verifySignatureWith(null, data, keys.publicKey.key, jws.signature);
    // JWS ES256 signatures are the raw 64-byte r||s (IEEE P1363), never DER.
    if (jws.signature.length !== 64) return false;
    return verifySignatureWith(
      'sha256',
      data,
      { key: keys.publicKey.key, dsaEncoding: 'ieee-p1363' },
      jws.signature,
    );
  }
  if (alg !== 'HS256') throw new ConclaveError('token_algorithm_refused');
  // Every secret is tried (no early exit) so timing does not tell which one matched.
  let matched = false;
  for (const secret of keys.secrets) {
    if (hmacEquals(jws, secret)) matched = true;
  }
  return matched;
}

function hmacEquals(jws: DecodedJws, secret: Buffer): boolean {
  const expected = createHmac('sha256', secret).update(jws.signingInput, 'ascii').digest();
  // The expected length (32) is public; comparing lengths first leaks nothing.
  return expected.length === jws.signature.length && timingSafeEqual(expected, jws.signature);
}

function readHeader(header: Record<string, unknown>): DecodedJws['header'] {
  const alg = header.alg;
  if (typeof alg !== 'string') throw invalid();
  // `none` in any letter case and every algorithm we do not implement end here, before any key
  // is looked up.
  if (!KNOWN_ALGORITHMS.includes(alg)) throw new ConclaveError('token_algorithm_refused');
  // jku, x5u, jwk, x5c would let the token name its own key; crit would ask us to honour
  // extensions we do not know. Anything beyond alg/typ/kid is refused.
  for (const key of Object.keys(header)) if (!HEADER_KEYS.has(key)) throw invalid();
  if (header.typ !== undefined && header.typ !== 'JWT') throw invalid();
  if (header.kid !== undefined && typeof header.kid !== 'string') throw invalid();
  return header as DecodedJws['header'];
}

function decodeJsonSegment(segment: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(decodeSegment(segment).toString('utf8'));
  } catch {
    throw invalid();
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid();
  return value as Record<string, unknown>;
}

/** Strict base64url: no padding, no standard-alphabet characters, no stray bits. */
function decodeSegment(segment: string): Buffer {
  if (segment.length === 0 || !BASE64URL.test(segment) || segment.length % 4 === 1) throw invalid();
  const bytes = Buffer.from(segment, 'base64url');
  // Node ignores trailing bits; re-encoding catches a segment that is not canonical.
  if (bytes.toString('base64url') !== segment) throw invalid();
  return bytes;
}

function invalid(): ConclaveError {
  return new ConclaveError('token_invalid');
}
