/** Identifiers and secrets: all from the CSPRNG, encoded base64url. */
import { randomBytes } from 'node:crypto';

function random(prefix: string, bytes: number): string {
  return `${prefix}${randomBytes(bytes).toString('base64url')}`;
}

export const newAppId = () => random('app_', 12);
/** The API key is public (it names the application in `iss`), but still not guessable. */
export const newApiKey = () => random('ck_', 18);
export const newSecretId = () => random('sec_', 12);
/** 128 bits would do; 144 leaves margin and encodes without padding. */
export const newSessionId = () => random('ses_', 18);
export const newRevocationId = () => random('rev_', 12);
/** A 256-bit API secret. */
export const newApiSecret = () => randomBytes(32).toString('base64url');
