import type { RedisCommandClient as Redis } from '../redis/lua-script.js';
import type { RedisKeys } from '../redis/keys.js';
import { LuaScript } from '../redis/lua-script.js';
import { withRedis } from '../redis/redis-errors.js';
import type { ConnectionLease, ConnectionLimiter } from './connection-limiter.port.js';

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

/** Extends leases that still exist (XX: a released or expired one is not brought back). */
const RENEW = new LuaScript(`
local t = redis.call('TIME')
local expires = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], 'XX', expires, ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
return 1
`);

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

  async renew(leases: ConnectionLease[]): Promise<void> {
    // One script per lease: users' keys may live on different cluster slots.
    await Promise.all(
      leases.map((lease) =>
        withRedis(() =>
          RENEW.run(
            this.client,
            [this.keys.connections(lease.userId)],
            [lease.connectionId, this.leaseMs],
          ),
        ),
      ),
    );
  }
}
