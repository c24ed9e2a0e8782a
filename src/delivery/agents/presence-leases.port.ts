/**
 * Leases on agent presence, shared by every replica: a replica holds one per
 * connected agent and project, renewing it while the agent stays; a lease
 * that is not renewed (its replica died) expires, and whichever replica takes
 * it first publishes the agent offline. Members are opaque strings (the
 * caller encodes what it needs in them).
 */
export interface PresenceLeases {
  /** Holds `member` until `expiresAt` (ms). */
  hold(member: string, expiresAt: number): Promise<void>;
  /** Extends `member` to `expiresAt`; false when it is no longer held (it expired and was taken). */
  renew(member: string, expiresAt: number): Promise<boolean>;
  /** Lets `member` go; true when it was still held. */
  release(member: string): Promise<boolean>;
  /** Takes (removes and returns) up to `limit` leases expired by `now`: each is taken by one caller only. */
  takeExpired(now: number, limit: number): Promise<string[]>;
}

export const PRESENCE_LEASES = Symbol('PresenceLeases');
