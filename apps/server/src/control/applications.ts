/**
 * Applications (tenants): their API key, their encrypted secrets and their optional public key.
 * The plain secret exists only in `create` and `rotateSecret` results and, decrypted on demand,
 * in `verificationKeys` for the token verifier. It is never logged and never audited.
 */
import { ConclaveError } from '@conclave/protocol/errors';
import type { SqlAuditLog } from './audit.ts';
import { newApiKey, newApiSecret, newAppId, newSecretId } from './crypto/ids.ts';
import type { SecretBox } from './crypto/secret-box.ts';
import { parsePublicKeyPem, publicKeyFromPem } from './public-key.ts';
import { type Database, isUniqueViolation, type SqlExecutor, toBuffer, toNumber } from './store/database.ts';
import type {
  Actor,
  Application,
  ApplicationCredentials,
  ApplicationService,
  VerificationKeys,
} from './types.ts';

/** Application names: readable, and never shaped like an app id or API key (refs stay unambiguous). */
const APP_NAME = /^(?!app_|ck_)[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

interface AppRow {
  app_id: string;
  name: string;
  api_key: string;
  created_at: unknown;
  algorithm: string | null;
  pem: string | null;
  [key: string]: unknown;
}

interface SecretRow {
  secret_id: string;
  iv: unknown;
  ciphertext: unknown;
  auth_tag: unknown;
  [key: string]: unknown;
}

const SELECT_APP = `SELECT a.app_id, a.name, a.api_key, a.created_at, k.algorithm, k.pem
  FROM applications a LEFT JOIN app_public_keys k ON k.app_id = a.app_id`;

export interface ApplicationsOptions {
  rotationOverlapSeconds: number;
  now?: () => number;
}

export class SqlApplicationService implements ApplicationService {
  readonly #now: () => number;

  constructor(
    private readonly db: Database,
    private readonly box: SecretBox,
    private readonly audit: SqlAuditLog,
    private readonly options: ApplicationsOptions,
  ) {
    this.#now = options.now ?? Date.now;
  }

  async create(name: string, actor: Actor): Promise<ApplicationCredentials> {
    if (!APP_NAME.test(name)) {
      throw new ConclaveError(
        'invalid_request',
        'Application names are 1-100 letters, digits, ".", "_" or "-", and do not start with app_ or ck_',
      );
    }
    const appId = newAppId();
    const apiKey = newApiKey();
    const apiSecret = newApiSecret();
    try {
      await this.db.transaction(async (tx) => {
        await tx.run('INSERT INTO applications (app_id, name, api_key, created_at) VALUES (?, ?, ?, ?)', [
          appId,
          name,
          apiKey,
          this.#now(),
        ]);
        await this.#storeSecret(tx, appId, apiSecret);
        await this.audit.appendIn(tx, actor, 'app.created', appId, { name, apiKey });
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new ConclaveError('conflict', 'An application with this name exists');
      throw err;
    }
    return { appId, apiKey, apiSecret };
  }

  async list(): Promise<Application[]> {
    const rows = await this.db.all<AppRow>(`${SELECT_APP} ORDER BY a.created_at, a.app_id`);
    return rows.map(toApplication);
  }

  async find(ref: string): Promise<Application | null> {
    const row = await findRow(this.db, ref);
    return row ? toApplication(row) : null;
  }

  async rotateSecret(ref: string, actor: Actor, overlapSeconds?: number): Promise<ApplicationCredentials> {
    const overlap = overlapSeconds ?? this.options.rotationOverlapSeconds;
    if (!Number.isInteger(overlap) || overlap < 0) {
      throw new ConclaveError('invalid_request', 'The overlap must be a whole number of seconds, 0 or more');
    }
    const apiSecret = newApiSecret();
    const app = await this.db.transaction(async (tx) => {
      const found = await requireRow(tx, ref);
      const now = this.#now();
      const expiresAt = now + overlap * 1000;
      // The current secret keeps verifying until the overlap ends; older ones keep their expiry.
      await tx.run('UPDATE app_secrets SET expires_at = ? WHERE app_id = ? AND expires_at IS NULL', [
        expiresAt,
        found.app_id,
      ]);
      await tx.run('DELETE FROM app_secrets WHERE app_id = ? AND expires_at <= ?', [found.app_id, now]);
      await this.#storeSecret(tx, found.app_id, apiSecret);
      await this.audit.appendIn(tx, actor, 'app.secret_rotated', found.app_id, {
        overlapSeconds: overlap,
        previousValidUntil: new Date(expiresAt).toISOString(),
      });
      return found;
    });
    return { appId: app.app_id, apiKey: app.api_key, apiSecret };
  }

  async setPublicKey(ref: string, pem: string, actor: Actor): Promise<Application> {
    const parsed = parsePublicKeyPem(pem);
    const appId = await this.db.transaction(async (tx) => {
      const found = await requireRow(tx, ref);
      await tx.run('DELETE FROM app_public_keys WHERE app_id = ?', [found.app_id]);
      await tx.run('INSERT INTO app_public_keys (app_id, algorithm, pem, created_at) VALUES (?, ?, ?, ?)', [
        found.app_id,
        parsed.algorithm,
        parsed.pem,
        this.#now(),
      ]);
      await this.audit.appendIn(tx, actor, 'app.public_key_registered', found.app_id, {
        algorithm: parsed.algorithm,
      });
      return found.app_id;
    });
    const app = await this.find(appId);
    if (!app) throw new ConclaveError('not_found', 'Application not found');
    return app;
  }

  async delete(ref: string, actor: Actor): Promise<void> {
    await this.db.transaction(async (tx) => {
      const found = await requireRow(tx, ref);
      // Children first: correct even where foreign keys are not enforced.
      await tx.run(
        'DELETE FROM token_revocations WHERE session_id IN (SELECT session_id FROM sessions WHERE app_id = ?)',
        [found.app_id],
      );
      await tx.run('DELETE FROM sessions WHERE app_id = ?', [found.app_id]);
      await tx.run('DELETE FROM app_secrets WHERE app_id = ?', [found.app_id]);
      await tx.run('DELETE FROM app_public_keys WHERE app_id = ?', [found.app_id]);
      await tx.run('DELETE FROM applications WHERE app_id = ?', [found.app_id]);
      await this.audit.appendIn(tx, actor, 'app.deleted', found.app_id, { name: found.name });
    });
  }

  async verificationKeys(apiKey: string): Promise<VerificationKeys | null> {
    const row = await this.db.get<AppRow>(`${SELECT_APP} WHERE a.api_key = ?`, [apiKey]);
    if (!row) return null;
    const base = { appId: row.app_id, apiKey: row.api_key };
    if (row.pem && (row.algorithm === 'EdDSA' || row.algorithm === 'ES256')) {
      // A registered public key replaces the shared secret entirely.
      return {
        ...base,
        secrets: [],
        publicKey: { algorithm: row.algorithm, key: publicKeyFromPem(row.pem) },
      };
    }
    const secrets = await this.db.all<SecretRow>(
      `SELECT secret_id, iv, ciphertext, auth_tag FROM app_secrets
       WHERE app_id = ? AND (expires_at IS NULL OR expires_at > ?)
       ORDER BY CASE WHEN expires_at IS NULL THEN 0 ELSE 1 END, created_at DESC`,
      [row.app_id, this.#now()],
    );
    return { ...base, secrets: secrets.map((s) => this.#openSecret(row.app_id, s)), publicKey: null };
  }

  async #storeSecret(tx: SqlExecutor, appId: string, apiSecret: string): Promise<void> {
    const secretId = newSecretId();
    const sealed = this.box.seal(Buffer.from(apiSecret, 'utf8'), { appId, secretId });
    await tx.run(
      `INSERT INTO app_secrets (secret_id, app_id, iv, ciphertext, auth_tag, created_at, expires_at)
       VALUES (?, ?, ?, ?, ?, ?, NULL)`,
      [secretId, appId, sealed.iv, sealed.ciphertext, sealed.authTag, this.#now()],
    );
  }

  #openSecret(appId: string, row: SecretRow): Buffer {
    try {
      return this.box.open(
        { iv: toBuffer(row.iv), ciphertext: toBuffer(row.ciphertext), authTag: toBuffer(row.auth_tag) },
        { appId, secretId: row.secret_id },
      );
    } catch {
      throw new Error(
        `Cannot decrypt a secret of application ${appId}: the master key differs from the one that encrypted it, or the row was altered`,
      );
    }
  }
}

async function findRow(executor: SqlExecutor, ref: string): Promise<AppRow | undefined> {
  return executor.get<AppRow>(`${SELECT_APP} WHERE a.app_id = ? OR a.api_key = ? OR a.name = ?`, [
    ref,
    ref,
    ref,
  ]);
}

async function requireRow(executor: SqlExecutor, ref: string): Promise<AppRow> {
  const row = await findRow(executor, ref);
  if (!row) throw new ConclaveError('not_found', 'Application not found');
  return row;
}

function toApplication(row: AppRow): Application {
  return {
    appId: row.app_id,
    name: row.name,
    apiKey: row.api_key,
    createdAt: new Date(toNumber(row.created_at)),
    publicKey: publicKeyOf(row),
  };
}

function publicKeyOf(row: AppRow): Application['publicKey'] {
  const algorithm = row.algorithm;
  if (!row.pem || (algorithm !== 'EdDSA' && algorithm !== 'ES256')) return null;
  return { algorithm, pem: row.pem };
}
