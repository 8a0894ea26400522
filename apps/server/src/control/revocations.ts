/**
 * Token revocation, by jti or by participant identity. An identity revocation applies to every
 * token of that identity issued at or before the revocation (a fresh token issued afterwards
 * works again). A revocation is kept only as long as a token it could match may still be valid:
 * the maximum token lifetime plus the clock skew; after that, expiry alone rejects such tokens.
 */
import { ConclaveError } from '@conclave/protocol/errors';
import type { SqlAuditLog } from './audit.ts';
import { newRevocationId } from './crypto/ids.ts';
import type { Database } from './store/database.ts';
import type { Actor, RevocationService } from './types.ts';

export interface RevocationOptions {
  maxTokenLifetimeSeconds: number;
  clockSkewSeconds: number;
  now?: () => number;
}

export class SqlRevocationService implements RevocationService {
  readonly #now: () => number;
  readonly #keepMs: number;

  constructor(
    private readonly db: Database,
    private readonly audit: SqlAuditLog,
    options: RevocationOptions,
  ) {
    this.#now = options.now ?? Date.now;
    this.#keepMs = (options.maxTokenLifetimeSeconds + options.clockSkewSeconds) * 1000;
  }

  async revoke(
    appId: string,
    sessionId: string,
    target: { jti?: string; identity?: string },
    actor: Actor,
  ): Promise<void> {
    if (!target.jti && !target.identity) {
      throw new ConclaveError('invalid_request', 'Name a token (jti) or a participant identity to revoke');
    }
    await this.db.transaction(async (tx) => {
      const owned = await tx.get('SELECT 1 AS one FROM sessions WHERE session_id = ? AND app_id = ?', [
        sessionId,
        appId,
      ]);
      if (!owned) throw new ConclaveError('session_not_found');
      const now = this.#now();
      await tx.run('DELETE FROM token_revocations WHERE keep_until < ?', [now]);
      await tx.run(
        `INSERT INTO token_revocations (revocation_id, session_id, jti, identity, revoked_at, keep_until)
         VALUES (?, ?, ?, ?, ?, ?)`,
        [newRevocationId(), sessionId, target.jti ?? null, target.identity ?? null, now, now + this.#keepMs],
      );
      await this.audit.appendIn(tx, actor, 'tokens.revoked', sessionId, {
        appId,
        jti: target.jti,
        identity: target.identity,
      });
    });
  }

  async isRevoked(sessionId: string, token: { jti: string; sub: string; iat: number }): Promise<boolean> {
    // iat has one-second resolution: a token issued in the same second as an identity
    // revocation counts as revoked (when in doubt, refuse).
    const row = await this.db.get(
      `SELECT 1 AS one FROM token_revocations
       WHERE session_id = ? AND (jti = ? OR (identity = ? AND revoked_at >= ?)) LIMIT 1`,
      [sessionId, token.jti, token.sub, token.iat * 1000],
    );
    return row !== undefined;
  }
}
