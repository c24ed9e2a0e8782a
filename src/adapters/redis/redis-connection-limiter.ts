import type { RedisCommandClient as Redis } from './lua-script.js';
import type { RedisKeys } from './keys.js';
import { LuaScript } from './lua-script.js';
import { withRedis } from './redis-errors.js';
import type {
  ConnectionLease,
  ConnectionLimiter,
} from '../../delivery/sessions/connection-limiter.port.js';

/**
 * Drops expired leases, then takes a slot if fewer than max are held (or
 * renews one this connection already holds), atomically.
 * KEYS: 1 the user's sorted set. ARGV: 1 connection id, 2 max, 3 lease ms.
 * Returns 1 when taken, 0 when full.
 */
const ACQUIRE = new LuaScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) * 2)
return 1
`);

/**
 * Extends one user's leases that still exist (XX: a released or expired one is
 * not brought back).
 * KEYS: 1 the user's sorted set. ARGV: 1 lease ms, 2.. connection ids.
 */
const RENEW = new LuaScript(`
local t = redis.call('TIME')
local expires = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
local members = {}
for i = 2, #ARGV do
  members[#members + 1] = expires
  members[#members + 1] = ARGV[i]
end
redis.call('ZADD', KEYS[1], 'XX', unpack(members))
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]) * 2)
return 1
`);

/** Connection ids per renewal script (Lua's unpack takes a few thousand values at most). */
const IDS_PER_RENEWAL = 1000;
/** Renewal scripts issued at once; the next batch waits for this one's replies. */
const RENEWALS_IN_FLIGHT = 200;

/** Leases in one sorted set per user (`sb:conns:{user}`), scored by expiry; Redis time, not replica clocks. */
export class RedisConnectionLimiter implements ConnectionLimiter {
  constructor(
    private readonly client: Redis,
    private readonly keys: RedisKeys,
    private readonly leaseMs: number,
  ) {}

  async acquire(lease: ConnectionLease, max: number): Promise<boolean> {
    const taken = await withRedis(() =>
      ACQUIRE.run(
        this.client,
        [this.keys.connections(lease.userId)],
        [lease.connectionId, max, this.leaseMs],
      ),
    );
    return taken === 1;
  }

  async release(lease: ConnectionLease): Promise<void> {
    await withRedis(() =>
      this.client.zrem(this.keys.connections(lease.userId), lease.connectionId),
    );
  }

  /**
   * One script per user (users' keys may live on different cluster slots),
   * in batches. A script per lease, all at once, was a 270-300 ms stall of
   * the event loop every renewal at 3,300 connections a replica, and as long
   * a queue in front of every other Redis command.
   */
  async renew(leases: ConnectionLease[]): Promise<void> {
    const byUser = new Map<string, string[]>();
    for (const { userId, connectionId } of leases) {
      const ids = byUser.get(userId);
      if (ids) ids.push(connectionId);
      else byUser.set(userId, [connectionId]);
    }
    const renewals: [string, string[]][] = [];
    for (const [userId, ids] of byUser) {
      for (let i = 0; i < ids.length; i += IDS_PER_RENEWAL) {
        renewals.push([userId, ids.slice(i, i + IDS_PER_RENEWAL)]);
      }
    }
    // A failed batch does not stop the rest; the first failure is reported at the end.
    let failure: Error | null = null;
    for (let i = 0; i < renewals.length; i += RENEWALS_IN_FLIGHT) {
      const results = await Promise.allSettled(
        renewals
          .slice(i, i + RENEWALS_IN_FLIGHT)
          .map(([userId, ids]) =>
            withRedis(() =>
              RENEW.run(this.client, [this.keys.connections(userId)], [this.leaseMs, ...ids]),
            ),
          ),
      );
      for (const result of results) {
        if (result.status !== 'rejected') continue;
        const reason: unknown = result.reason;
        failure ??= reason instanceof Error ? reason : new Error(String(reason));
      }
    }
    if (failure !== null) throw failure;
  }
}
