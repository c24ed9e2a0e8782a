import type { PresenceLeases } from '../../delivery/agents/presence-leases.port.js';

/** Presence leases in one process (embedded mode: the replica that holds them is this one). */
export class MemoryPresenceLeases implements PresenceLeases {
  private readonly leases = new Map<string, number>();

  hold(member: string, expiresAt: number): Promise<void> {
    this.leases.set(member, expiresAt);
    return Promise.resolve();
  }

  renew(member: string, expiresAt: number): Promise<boolean> {
    if (!this.leases.has(member)) return Promise.resolve(false);
    this.leases.set(member, expiresAt);
    return Promise.resolve(true);
  }

  release(member: string): Promise<boolean> {
    return Promise.resolve(this.leases.delete(member));
  }

  takeExpired(now: number, limit: number): Promise<string[]> {
    const taken: string[] = [];
    for (const [member, expiresAt] of this.leases) {
      if (taken.length >= limit) break;
      if (expiresAt > now) continue;
      this.leases.delete(member);
      taken.push(member);
    }
    return Promise.resolve(taken);
  }
}
