/** One revocation: a user entirely (`projectId` null) or a user's access to one project. */
export interface Revocation {
  userId: string;
  projectId: string | null;
  /** When it was recorded, ms since the epoch. */
  at: number;
}

/**
 * Where revocations are kept (so a token issued before one is refused on any
 * replica, later) and how they reach every replica at once.
 */
export interface RevocationStore {
  /** Records it (for the configured time) and announces it to every replica, this one included. */
  record(revocation: Revocation): Promise<void>;
  /** Revocation times of one user: `*` for the whole user, else by project id. Read only. */
  lookup(userId: string): Promise<ReadonlyMap<string, number>>;
  /** Every announced revocation, from any replica. */
  onRevocation(listener: (revocation: Revocation) => void): void;
  /**
   * Announcements may have been missed (the channel was down): listeners
   * should check their live sessions against `lookup` again.
   */
  onMissedAnnouncements(listener: () => void): void;
}

export const REVOCATION_STORE = Symbol('RevocationStore');
