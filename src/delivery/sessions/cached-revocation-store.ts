import type { Revocation, RevocationStore } from './revocation-store.port.js';

/** Longest a user's revocation records are trusted from cache, ms (a safety net; announcements keep it current). */
const MAX_AGE_MS = 60_000;

/**
 * Every token use checks the user's revocations; this keeps them in memory so
 * that is not a Redis round trip per request. It stays correct because every
 * revocation is announced to every replica: an announcement updates the cached
 * user, a lookup that raced with one is not cached, and after a possibly
 * missed announcement (the channel dropped) everything is forgotten.
 */
export class CachedRevocationStore implements RevocationStore {
  private readonly users = new Map<string, { records: Map<string, number>; at: number }>();
  /** Bumped by each announcement for a user, so a lookup that raced with one is not cached. */
  private readonly versions = new Map<string, number>();

  constructor(
    private readonly inner: RevocationStore,
    private readonly maxUsers = 10_000,
    private readonly now: () => number = Date.now,
  ) {
    inner.onRevocation((revocation) => this.announced(revocation));
    inner.onMissedAnnouncements(() => {
      this.users.clear();
      this.versions.clear();
    });
  }

  async record(revocation: Revocation): Promise<void> {
    await this.inner.record(revocation);
    // This replica knows at once; the announcement (echoed back too) updates the others.
    this.announced(revocation);
  }

  async lookup(userId: string): Promise<ReadonlyMap<string, number>> {
    const cached = this.users.get(userId);
    // Handed out as is (read only): this runs for every token use.
    if (cached && this.now() - cached.at < MAX_AGE_MS) return cached.records;
    const version = this.versions.get(userId) ?? 0;
    const records = await this.inner.lookup(userId);
    if ((this.versions.get(userId) ?? 0) === version) {
      if (this.users.size >= this.maxUsers) {
        const oldest = this.users.keys().next().value;
        if (oldest !== undefined) this.users.delete(oldest);
      }
      this.users.set(userId, { records: new Map(records), at: this.now() });
    }
    return records;
  }

  onRevocation(listener: (revocation: Revocation) => void): void {
    this.inner.onRevocation(listener);
  }

  onMissedAnnouncements(listener: () => void): void {
    this.inner.onMissedAnnouncements(listener);
  }

  private announced(revocation: Revocation): void {
    this.versions.set(revocation.userId, (this.versions.get(revocation.userId) ?? 0) + 1);
    const cached = this.users.get(revocation.userId);
    if (cached) cached.records.set(revocation.projectId ?? '*', revocation.at);
  }
}
