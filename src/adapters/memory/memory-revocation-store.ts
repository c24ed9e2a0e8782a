import type { Revocation, RevocationStore } from '../../delivery/sessions/revocation-store.port.js';

/** Embedded mode: one process, revocations kept in memory for `ttlMs`. */
export class MemoryRevocationStore implements RevocationStore {
  private readonly records = new Map<string, Map<string, number>>();
  private readonly listeners: ((revocation: Revocation) => void)[] = [];

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  record(revocation: Revocation): Promise<void> {
    let user = this.records.get(revocation.userId);
    if (!user) {
      user = new Map();
      this.records.set(revocation.userId, user);
    }
    user.set(revocation.projectId ?? '*', revocation.at);
    for (const listener of this.listeners) listener(revocation);
    return Promise.resolve();
  }

  lookup(userId: string): Promise<Map<string, number>> {
    const user = this.records.get(userId);
    if (!user) return Promise.resolve(new Map<string, number>());
    const cutoff = this.now() - this.ttlMs;
    for (const [key, at] of user) if (at < cutoff) user.delete(key);
    if (user.size === 0) this.records.delete(userId);
    return Promise.resolve(new Map(user));
  }

  onRevocation(listener: (revocation: Revocation) => void): void {
    this.listeners.push(listener);
  }

  onMissedAnnouncements(): void {
    // One process: nothing can be missed.
  }
}
