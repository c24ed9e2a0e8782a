import { GatewayError } from '../../core/errors.js';
import { NO_REVOCATIONS, revoke, type Principal } from '../auth/principal.js';
import { revokes } from './revocation-rule.js';
import { type Revocation, type RevocationStore } from './revocation-store.port.js';

/**
 * Revokes a user, or a user's access to one project, on every replica at
 * once, without waiting for token expiry. Domain modules inject this; the
 * admin endpoint calls it. Live sockets and SSE streams react through
 * `onRevoked` (and `recheck` when announcements may have been missed); new
 * tokens are judged by `admit`.
 */
/** What a re-check found for one live session. */
export type Recheck =
  { kind: 'none' } | { kind: 'user' } | { kind: 'projects'; projects: string[] };

export class RevocationService {
  constructor(private readonly store: RevocationStore) {}

  revokeUser(userId: string): Promise<Revocation> {
    return this.revoke({ userId, projectId: null, at: Date.now() });
  }

  revokeProject(userId: string, projectId: string): Promise<Revocation> {
    return this.revoke({ userId, projectId, at: Date.now() });
  }

  /**
   * Checks a verified principal against the recorded revocations: a whole-user
   * revocation after its token was issued refuses it (UNAUTHORIZED); project
   * revocations fill `principal.revoked`.
   */
  async admit(principal: Principal): Promise<Principal> {
    const records = await this.store.lookup(principal.sub);
    for (const [key, at] of records) {
      if (!revokes(at, principal.issuedAt)) continue;
      if (key === '*') throw new GatewayError('UNAUTHORIZED', 'token revoked');
      revoke(principal, key);
    }
    return principal;
  }

  /** Whether `revocation` applies to the session of `principal`. */
  appliesTo(revocation: Revocation, principal: Principal): boolean {
    return revocation.userId === principal.sub && revokes(revocation.at, principal.issuedAt);
  }

  onRevoked(listener: (revocation: Revocation) => void): void {
    this.store.onRevocation(listener);
  }

  /**
   * Announcements may have been missed (the subscriber was down): every
   * transport re-checks its live sessions with `recheck` then, so sockets and
   * SSE streams follow one rule.
   */
  onMissedAnnouncements(listener: () => void): void {
    this.store.onMissedAnnouncements(listener);
  }

  /**
   * A live session judged against the recorded revocations again: `user`
   * when its whole user was revoked after its token was issued, else the
   * projects revoked since that the session did not know of yet. A store that
   * cannot answer leaves the session as it is (`none`).
   */
  async recheck(principal: Principal): Promise<Recheck> {
    const fresh: Principal = { ...principal, revoked: NO_REVOCATIONS };
    try {
      await this.admit(fresh);
    } catch (err) {
      if (err instanceof GatewayError && err.code === 'UNAUTHORIZED') return { kind: 'user' };
      return { kind: 'none' };
    }
    const projects = [...fresh.revoked].filter((p) => !principal.revoked.has(p));
    return projects.length > 0 ? { kind: 'projects', projects } : { kind: 'none' };
  }

  private async revoke(revocation: Revocation): Promise<Revocation> {
    await this.store.record(revocation);
    return revocation;
  }
}
