import type { ConnectionLease } from '../../src/delivery/sessions/connection-limiter.port.js';
import { RedisConnectionLimiter } from '../../src/adapters/redis/redis-connection-limiter.js';
import { RedisKeys } from '../../src/adapters/redis/keys.js';
import { RedisServer } from '../support/redis-server.js';

const LEASE_MS = 60_000;
let redis: RedisServer;
let client: ReturnType<RedisServer['client']>;

beforeAll(async () => {
  redis = await RedisServer.start();
  client = redis.client();
});
afterAll(async () => {
  client?.disconnect();
  await redis?.stop();
});

const lease = (userId: string, connectionId: string): ConnectionLease => ({ userId, connectionId });

describe('redis connection limiter', () => {
  it('caps live leases per user and frees a slot on release', async () => {
    const limiter = new RedisConnectionLimiter(
      client,
      new RedisKeys(`cap${process.pid}`),
      LEASE_MS,
    );
    expect(await limiter.acquire(lease('u', 'a'), 2)).toBe(true);
    expect(await limiter.acquire(lease('u', 'b'), 2)).toBe(true);
    expect(await limiter.acquire(lease('u', 'c'), 2)).toBe(false);
    expect(await limiter.acquire(lease('other', 'x'), 2)).toBe(true);
    await limiter.release(lease('u', 'a'));
    expect(await limiter.acquire(lease('u', 'c'), 2)).toBe(true);
  });

  it('renews every lease it is given, many of one user and some of others, and only those', async () => {
    const keys = new RedisKeys(`renew${process.pid}`);
    const limiter = new RedisConnectionLimiter(client, keys, LEASE_MS);
    // More of one user than one renewal script takes, and more users than go out at once.
    const many = Array.from({ length: 2_500 }, (_, i) => lease('crowd', `c${i}`));
    const few = Array.from({ length: 300 }, (_, i) => lease(`user${i}`, `u${i}`));
    const left = [lease('crowd', 'crowd-left'), lease('user0', 'user0-left')];
    const released = lease('crowd', 'released');
    for (const l of [...many, ...few, ...left, released]) {
      expect(await limiter.acquire(l, 10_000)).toBe(true);
    }
    await limiter.release(released);
    const expiry = async (l: ConnectionLease) =>
      Number(await client.zscore(keys.connections(l.userId), l.connectionId));
    const before = new Map<string, number>();
    for (const l of [...many, ...few, ...left]) before.set(l.connectionId, await expiry(l));
    // Renewed by a limiter with twice the lease: a renewed expiry is later
    // than any first one, whatever Redis's clock did in between.
    const renewing = new RedisConnectionLimiter(client, keys, LEASE_MS * 2);
    await renewing.renew([...many, ...few, released]);

    for (const l of [...many, ...few]) {
      expect([l.connectionId, (await expiry(l)) > before.get(l.connectionId)!]).toEqual([
        l.connectionId,
        true,
      ]);
    }
    for (const l of left) expect(await expiry(l)).toBe(before.get(l.connectionId));
    expect(await client.zscore(keys.connections('crowd'), 'released')).toBeNull();
  });

  it("renews every other user when one user's renewal fails, and reports the failure", async () => {
    const keys = new RedisKeys(`fail${process.pid}`);
    const limiter = new RedisConnectionLimiter(client, keys, LEASE_MS);
    // More users than go out at once, so the failure is in an earlier batch than some renewals.
    const users = Array.from({ length: 450 }, (_, i) => lease(`user${i}`, `c${i}`));
    for (const l of users) expect(await limiter.acquire(l, 5)).toBe(true);
    const before = new Map<string, number>();
    for (const l of users) {
      before.set(l.userId, Number(await client.zscore(keys.connections(l.userId), l.connectionId)));
    }
    // user0's key is not a sorted set any more: its script fails (WRONGTYPE).
    await client.set(keys.connections('user0'), 'not a sorted set');

    const renewing = new RedisConnectionLimiter(client, keys, LEASE_MS * 2);
    await expect(renewing.renew(users)).rejects.toThrow();

    for (const l of users.slice(1)) {
      const now = Number(await client.zscore(keys.connections(l.userId), l.connectionId));
      expect([l.userId, now > before.get(l.userId)!]).toEqual([l.userId, true]);
    }
  });
});
