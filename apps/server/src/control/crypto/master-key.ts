/**
 * The master key encrypts API secrets at rest. It comes from CONCLAVE_MASTER_KEY (base64 or
 * 64 hex characters) or from a key file, generated on first use (0600, in a 0700 directory).
 * A key file that group or others can read is refused: the key is only as secret as its file.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export const MASTER_KEY_BYTES = 32;

export class MasterKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MasterKeyError';
  }
}

export interface MasterKeySource {
  /** The value of CONCLAVE_MASTER_KEY, if set. */
  envValue?: string | undefined;
  /** Key file used when the environment does not provide a key. */
  file: string;
}

export async function loadMasterKey(source: MasterKeySource): Promise<Buffer> {
  if (source.envValue !== undefined && source.envValue.trim() !== '') {
    const key = decodeKey(source.envValue);
    if (!key) {
      throw new MasterKeyError(
        `CONCLAVE_MASTER_KEY must be ${MASTER_KEY_BYTES} bytes, written as base64 or 64 hex characters`,
      );
    }
    return key;
  }
  return (await readKeyFile(source.file)) ?? (await createKeyFile(source.file));
}

/** Accepts 64 hex characters or base64/base64url of exactly 32 bytes. */
export function decodeKey(text: string): Buffer | null {
  const value = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(value)) return Buffer.from(value, 'hex');
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(value)) return null;
  const key = Buffer.from(value, 'base64');
  return key.length === MASTER_KEY_BYTES ? key : null;
}

async function readKeyFile(file: string): Promise<Buffer | null> {
  let mode: number;
  try {
    mode = (await stat(file)).mode;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  if ((mode & 0o077) !== 0) {
    const shown = (mode & 0o777).toString(8).padStart(4, '0');
    throw new MasterKeyError(
      `Refusing to start: the master key file ${file} is accessible by group or others (mode ${shown}). Fix it with: chmod 600 ${file}`,
    );
  }
  const key = decodeKey(await readFile(file, 'utf8'));
  if (!key)
    throw new MasterKeyError(`The master key file ${file} does not hold a ${MASTER_KEY_BYTES}-byte key`);
  return key;
}

async function createKeyFile(file: string): Promise<Buffer> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const key = randomBytes(MASTER_KEY_BYTES);
  try {
    // 'wx': never overwrite a key another process created a moment ago (that would orphan
    // every secret it already encrypted).
    await writeFile(file, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      const existing = await readKeyFile(file);
      if (existing) return existing;
    }
    throw err;
  }
  await chmod(file, 0o600); // the umask may have been stricter, never looser; be explicit anyway
  return key;
}
