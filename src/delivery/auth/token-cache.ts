import { NO_REVOCATIONS, type Principal } from './principal.js';

/** Longest a verified token is trusted without verifying it again, ms. */
const MAX_TRUST_MS = 60_000;

/**
 * Verified tokens, so a service that publishes many times with one token (or
 * a page that reconnects) pays for the signature check once a minute, not per
 * request. An entry lives until the token's `exp` or for a minute, whichever
 * comes first (so a key retired from the JWKS stops being trusted soon after),
 * and the oldest entries make room when it is full. Expired entries are
 * dropped as new ones come, so the cache holds about the tokens seen in the
 * last minute, not the last `maxEntries` (clients that reconnect with fresh
 * tokens would otherwise fill it with dead ones, about 1 KB each).
 * Revocations are not cached here: they are checked on every use.
 */
export class TokenCache {
  private readonly entries = new Map<string, { principal: Principal; until: number }>();

  constructor(
    private readonly maxEntries = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** A fresh copy of the principal (its `revoked` set is per use), or null. */
  get(token: string): Principal | null {
    const entry = this.entries.get(token);
    if (!entry) return null;
    if (this.now() >= entry.until) {
      this.entries.delete(token);
      return null;
    }
    return { ...entry.principal, revoked: NO_REVOCATIONS };
  }

  /** Entries held (leak checks). */
  get size(): number {
    return this.entries.size;
  }

  set(token: string, principal: Principal): void {
    const now = this.now();
    const until = Math.min(principal.expiresAt, now + MAX_TRUST_MS);
    if (until <= now) return;
    // Insertion order is the order of trust (each entry is trusted at most a
    // minute from when it came), so the expired ones are found from the
    // oldest end; each is dropped once, which keeps a set O(1) amortized.
    for (const [oldest, entry] of this.entries) {
      if (entry.until > now) break;
      this.entries.delete(oldest);
    }
    if (this.entries.size >= this.maxEntries) {
      // Maps iterate in insertion order: the first key is the oldest.
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(token, { principal: { ...principal, revoked: NO_REVOCATIONS }, until });
  }
}
