import { Inject, Injectable } from '@nestjs/common';
import { GatewayError } from '../../common/errors.js';
import { revoke, type Principal } from '../principal.js';
import { revokes } from './revocation-rule.js';
import {
  REVOCATION_STORE,
  type Revocation,
  type RevocationStore,
} from './revocation-store.port.js';

/**
 * Revokes a user, or a user's access to one project, on every replica at
 * once, without waiting for token expiry. Domain modules inject this; the
 * admin endpoint calls it. Live sockets (and, later, SSE streams) react
 * through `onRevoked`; new tokens are judged by `admit`.
 */
@Injectable()
export class RevocationService {
  constructor(@Inject(REVOCATION_STORE) private readonly store: RevocationStore) {}

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

  /** Announcements may have been missed: re-check live sessions with `admit`. */
  onMissedAnnouncements(listener: () => void): void {
    this.store.onMissedAnnouncements(listener);
  }

  private async revoke(revocation: Revocation): Promise<Revocation> {
    await this.store.record(revocation);
    return revocation;
  }
}
