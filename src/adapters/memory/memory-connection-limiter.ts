import type {
  ConnectionLease,
  ConnectionLimiter,
} from '../../delivery/sessions/connection-limiter.port.js';

/** Embedded mode: the same lease rules in one process. */
export class MemoryConnectionLimiter implements ConnectionLimiter {
  private readonly users = new Map<string, Map<string, number>>();

  constructor(
    private readonly leaseMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  acquire(lease: ConnectionLease, max: number): Promise<boolean> {
    const now = this.now();
    let slots = this.users.get(lease.userId);
    if (!slots) {
      slots = new Map();
      this.users.set(lease.userId, slots);
    }
    for (const [id, expires] of slots) if (expires <= now) slots.delete(id);
    if (!slots.has(lease.connectionId) && slots.size >= max) return Promise.resolve(false);
    slots.set(lease.connectionId, now + this.leaseMs);
    return Promise.resolve(true);
  }

  release(lease: ConnectionLease): Promise<void> {
    const slots = this.users.get(lease.userId);
    slots?.delete(lease.connectionId);
    if (slots?.size === 0) this.users.delete(lease.userId);
    return Promise.resolve();
  }

  renew(leases: ConnectionLease[]): Promise<void> {
    const expires = this.now() + this.leaseMs;
    for (const lease of leases) {
      const slots = this.users.get(lease.userId);
      if (slots?.has(lease.connectionId)) slots.set(lease.connectionId, expires);
    }
    return Promise.resolve();
  }
}
