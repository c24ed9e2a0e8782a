/** One open connection (socket or SSE stream) holding one of its user's slots. */
export interface ConnectionLease {
  userId: string;
  connectionId: string;
}

/**
 * Concurrent connections per user, across the cluster. Each slot is a lease
 * that expires unless renewed, so a replica that dies without releasing its
 * slots never locks its users out for longer than one lease.
 */
export interface ConnectionLimiter {
  /** Takes a slot; false when the user already holds `max` live ones. */
  acquire(lease: ConnectionLease, max: number): Promise<boolean>;
  release(lease: ConnectionLease): Promise<void>;
  /** Extends the leases this replica holds. */
  renew(leases: ConnectionLease[]): Promise<void>;
}

export const CONNECTION_LIMITER = Symbol('ConnectionLimiter');
