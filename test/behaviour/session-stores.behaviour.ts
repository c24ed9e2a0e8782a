import { eventually } from '../support/metrics.js';
import type { ConnectionLimiter } from '../../src/delivery/sessions/connection-limiter.port.js';
import { RateLimits, type LimiterFactory } from '../../src/delivery/sessions/rate-limits.js';
import type {
  Revocation,
  RevocationStore,
} from '../../src/delivery/sessions/revocation-store.port.js';
import type { SseTicketStore, TicketGrant } from '../../src/delivery/sessions/ticket-store.port.js';
import type { PresenceLeases } from '../../src/delivery/agents/presence-leases.port.js';

/**
 * The stores behind the session rules, one behaviour suite per port, run
 * against the memory and the Redis implementation alike: what passes here is
 * what revocations, SSE tickets, connection slots and rate limits may rely on.
 * Each factory call gives a fresh store (its own key prefix on Redis).
 */
export interface SessionStoreFactories {
  revocations: () => Promise<RevocationStore>;
  tickets: () => Promise<SseTicketStore>;
  /** A limiter whose leases last `leaseMs`. */
  connections: (leaseMs: number) => Promise<ConnectionLimiter>;
  limiters: () => Promise<LimiterFactory>;
  presence: () => Promise<PresenceLeases>;
}

let seq = 0;
const unique = (name: string) => `${name}${process.pid}_${++seq}`;

/** The next revocation `store` announces. */
function nextAnnouncement(store: RevocationStore): Promise<Revocation> {
  return new Promise((resolve) => store.onRevocation(resolve));
}

const NOW = Date.now();
const grant = (sub: string): TicketGrant => ({
  sub,
  projectId: 'p1',
  projects: ['p1'],
  scopes: [],
  expiresAt: NOW + 60_000,
  issuedAt: NOW - 1000,
});

export function describeSessionStores(name: string, stores: SessionStoreFactories): void {
  describe(`presence leases behaviour: ${name}`, () => {
    it('holds, renews and releases a lease; an expired one is taken once, by one taker', async () => {
      const leases = await stores.presence();
      const [a, b, c] = [unique('a'), unique('b'), unique('c')];
      await leases.hold(a, 1000);
      await leases.hold(b, 5000);
      await leases.hold(c, 1000);
      expect(await leases.renew(c, 9000)).toBe(true);
      // Renewed to the expiry it has already: still held.
      expect(await leases.renew(c, 9000)).toBe(true);
      const taken = await Promise.all([leases.takeExpired(2000, 10), leases.takeExpired(2000, 10)]);
      expect(taken.flat()).toEqual([a]);
      expect(await leases.renew(a, 9000)).toBe(false);
      expect(await leases.release(a)).toBe(false);
      expect(await leases.release(b)).toBe(true);
      expect(await leases.takeExpired(8000, 10)).toEqual([]);
      expect(await leases.takeExpired(10_000, 10)).toEqual([c]);
    });

    it('takes at most `limit` expired leases at a time', async () => {
      const leases = await stores.presence();
      for (let i = 0; i < 5; i++) await leases.hold(unique('m'), 100);
      expect(await leases.takeExpired(200, 2)).toHaveLength(2);
      expect(await leases.takeExpired(200, 10)).toHaveLength(3);
    });
  });

  describe(`revocation store behaviour: ${name}`, () => {
    it('records a revocation, announces it, and answers lookups by user', async () => {
      const store = await stores.revocations();
      const user = unique('u');
      const heard = nextAnnouncement(store);
      const revocation = { userId: user, projectId: 'p1', at: Date.now() };
      await store.record(revocation);
      expect(await heard).toEqual(revocation);
      await store.record({ userId: user, projectId: null, at: revocation.at + 1 });
      expect(await store.lookup(user)).toEqual(
        new Map([
          ['p1', revocation.at],
          ['*', revocation.at + 1],
        ]),
      );
      expect(await store.lookup(unique('nobody'))).toEqual(new Map());
    });
  });

  describe(`ticket store behaviour: ${name}`, () => {
    it('redeems a ticket once, for what it was saved with', async () => {
      const store = await stores.tickets();
      const ticket = unique('t');
      await store.save(ticket, grant('alice'), 60_000);
      expect(await store.take(ticket)).toEqual(grant('alice'));
      expect(await store.take(ticket)).toBeNull();
      expect(await store.take(unique('never-issued'))).toBeNull();
    });

    it('forgets a ticket after its time to live', async () => {
      const store = await stores.tickets();
      // Many tickets of a short life; each probe redeems the next one (a take uses it up).
      const tickets = Array.from({ length: 200 }, () => unique('t'));
      for (const ticket of tickets) await store.save(ticket, grant('bob'), 100);
      const kept = unique('kept');
      await store.save(kept, grant('carol'), 60_000);
      let next = 0;
      await eventually(
        async () => (await store.take(tickets[next++])) === null,
        5000,
        'the ticket to expire',
      );
      expect(await store.take(kept)).toMatchObject({ sub: 'carol' });
    });
  });

  describe(`connection limiter behaviour: ${name}`, () => {
    const lease = (userId: string, connectionId: string) => ({ userId, connectionId });

    it('caps live leases per user and frees a slot on release', async () => {
      const limiter = await stores.connections(60_000);
      const user = unique('u');
      expect(await limiter.acquire(lease(user, 'a'), 2)).toBe(true);
      expect(await limiter.acquire(lease(user, 'b'), 2)).toBe(true);
      expect(await limiter.acquire(lease(user, 'c'), 2)).toBe(false);
      expect(await limiter.acquire(lease(unique('other'), 'x'), 2)).toBe(true);
      await limiter.release(lease(user, 'a'));
      expect(await limiter.acquire(lease(user, 'c'), 2)).toBe(true);
    });

    it('lets a lease that is not renewed expire, and keeps a renewed one', async () => {
      const limiter = await stores.connections(1000);
      const user = unique('u');
      expect(await limiter.acquire(lease(user, 'kept'), 2)).toBe(true);
      expect(await limiter.acquire(lease(user, 'dropped'), 2)).toBe(true);
      // Renewed at a tenth of the lease, so a stalled turn cannot let it lapse:
      // only `dropped`'s slot comes free.
      const renewing = setInterval(() => void limiter.renew([lease(user, 'kept')]), 100);
      try {
        await eventually(() => limiter.acquire(lease(user, 'new'), 2), 5000, 'the lapsed slot');
        expect(await limiter.acquire(lease(user, 'another'), 2)).toBe(false);
      } finally {
        clearInterval(renewing);
      }
    });
  });

  describe(`rate limits behaviour: ${name}`, () => {
    const limits = {
      handshakesPerMinute: 3,
      publishPerSecond: 2,
      readsPerSecond: 2,
      commandsPerSecond: 2,
    };

    it('counts commands per user, and refuses one past the limit with RATE_LIMITED', async () => {
      const rateLimits = new RateLimits(limits, await stores.limiters());
      const user = unique('operator');
      await rateLimits.requireCommand(user);
      await rateLimits.requireCommand(user);
      await expect(rateLimits.requireCommand(user)).rejects.toMatchObject({
        code: 'RATE_LIMITED',
        retryAfterSeconds: 1,
      });
      await rateLimits.requireCommand(unique('operator'));
    });

    it('lets a key through up to its limit, then refuses it with a retry delay', async () => {
      const rateLimits = new RateLimits(limits, await stores.limiters());
      const address = unique('10.0.0.');
      for (let i = 0; i < 3; i++) expect(await rateLimits.handshake(address)).toEqual({ ok: true });
      const refused = await rateLimits.handshake(address);
      expect(refused.ok).toBe(false);
      expect(refused.ok === false && refused.retryAfterSeconds).toBeGreaterThanOrEqual(1);
      expect(await rateLimits.handshake(unique('10.0.1.'))).toEqual({ ok: true });
    });

    it('counts publishes and reads of a token apart, and refuses with RATE_LIMITED', async () => {
      const rateLimits = new RateLimits(limits, await stores.limiters());
      const token = { sub: unique('svc'), issuedAt: 1 };
      await rateLimits.requireToken('publish', token);
      await rateLimits.requireToken('publish', token);
      await expect(rateLimits.requireToken('publish', token)).rejects.toMatchObject({
        code: 'RATE_LIMITED',
        retryAfterSeconds: 1,
      });
      await rateLimits.requireToken('read', token);
      // Another token of the same subject (issued at another time) has its own budget.
      await rateLimits.requireToken('publish', { ...token, issuedAt: 2 });
    });
  });
}
