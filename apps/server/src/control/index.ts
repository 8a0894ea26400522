/**
 * Opens the control plane: loads the master key (refusing a key file others can read), opens
 * the store the configuration selects, brings its schema up to date and builds the services.
 * Used by the server (app.ts) and by the operator CLI, which opens the same store directly.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { SqlApplicationService } from './applications.ts';
import { SqlAuditLog } from './audit.ts';
import { loadMasterKey } from './crypto/master-key.ts';
import { SecretBox } from './crypto/secret-box.ts';
import { SqlRevocationService } from './revocations.ts';
import { SqlSessionService } from './sessions.ts';
import { isPostgresUrl, openStore } from './store/index.ts';
import type { ControlPlane } from './types.ts';

export type * from './types.ts';

/** The part of the server configuration the control plane reads. */
export interface ControlPlaneConfig {
  dataDir: string;
  database: { url: string };
  /** '' means dataDir/master.key. */
  masterKeyFile: string;
  tokens: { maxLifetimeSeconds: number; clockSkewSeconds?: number };
  secrets: { rotationOverlapSeconds: number };
  audit: { retentionDays: number };
}

export interface ControlPlaneOptions {
  /** Clock in epoch milliseconds; tests move it to cross rotation overlaps and retention. */
  now?: () => number;
  /** Environment to read CONCLAVE_MASTER_KEY from (default process.env). */
  env?: Readonly<Record<string, string | undefined>>;
  /** PostgreSQL schema to use; tests give each run a fresh one. */
  postgresSchema?: string;
  /**
   * How often the audit trail is pruned to its retention while the plane is open (default
   * daily, first run a minute after opening). 0 turns it off: the CLI prunes only when asked.
   */
  auditPruneIntervalMs?: number;
}

const DAY_MS = 86_400_000;
const FIRST_PRUNE_DELAY_MS = 60_000;

export async function openControlPlane(
  config: ControlPlaneConfig,
  options: ControlPlaneOptions = {},
): Promise<ControlPlane> {
  const now = options.now ?? Date.now;
  const env = options.env ?? process.env;
  if (!isPostgresUrl(config.database.url)) await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  const masterKey = await loadMasterKey({
    envValue: env.CONCLAVE_MASTER_KEY,
    file: config.masterKeyFile || join(config.dataDir, 'master.key'),
  });
  const db = await openStore(
    config,
    options.postgresSchema ? { postgresSchema: options.postgresSchema } : {},
  );
  const box = new SecretBox(masterKey);
  masterKey.fill(0);

  const audit = new SqlAuditLog(db, { retentionDays: config.audit.retentionDays, now });
  const stopPruning = schedulePruning(audit, options.auditPruneIntervalMs ?? DAY_MS);
  let closed: Promise<void> | undefined;
  return {
    apps: new SqlApplicationService(db, box, audit, {
      rotationOverlapSeconds: config.secrets.rotationOverlapSeconds,
      now,
    }),
    sessions: new SqlSessionService(db, audit, now),
    revocations: new SqlRevocationService(db, audit, {
      maxTokenLifetimeSeconds: config.tokens.maxLifetimeSeconds,
      clockSkewSeconds: config.tokens.clockSkewSeconds ?? 30,
      now,
    }),
    audit,
    close: () => {
      stopPruning();
      closed ??= db.close();
      return closed;
    },
  };
}

/** Keeps the audit trail within its retention while a server runs; returns the stop switch. */
function schedulePruning(audit: SqlAuditLog, intervalMs: number): () => void {
  if (intervalMs <= 0) return () => undefined;
  let timer: NodeJS.Timeout;
  const run = (delay: number) => {
    timer = setTimeout(() => {
      // A failed prune (database briefly unavailable) is retried at the next interval; the
      // records it would have removed are only kept a little longer.
      audit.prune().catch(() => undefined);
      run(intervalMs);
    }, delay);
    timer.unref();
  };
  run(Math.min(FIRST_PRUNE_DELAY_MS, intervalMs));
  return () => clearTimeout(timer);
}
