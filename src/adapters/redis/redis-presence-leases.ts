import type { PresenceLeases } from '../../delivery/agents/presence-leases.port.js';
import type { RedisKeys } from './keys.js';
import { LuaScript, type RedisCommandClient } from './lua-script.js';
import { withRedis } from './redis-errors.js';

/**
 * Takes expired leases atomically: of several replicas sweeping at once,
 * each expired lease goes to exactly one of them.
 * KEYS: 1 the lease set. ARGV: 1 now (ms), 2 limit.
 */
const TAKE_EXPIRED = new LuaScript(`
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
if #expired > 0 then redis.call('ZREM', KEYS[1], unpack(expired)) end
return expired
`);

/** Extends a lease still held (1), or says it is not (0). KEYS: 1 the set. ARGV: 1 expiry, 2 member. */
const RENEW = new LuaScript(`
if not redis.call('ZSCORE', KEYS[1], ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
return 1
`);

/** Presence leases in one Redis sorted set: member -> expiry (ms). */
export class RedisPresenceLeases implements PresenceLeases {
  private readonly key: string;

  constructor(
    private readonly client: RedisCommandClient,
    keys: RedisKeys,
  ) {
    this.key = keys.presenceLeases();
  }

  async hold(member: string, expiresAt: number): Promise<void> {
    await withRedis(() => this.client.zadd(this.key, expiresAt, member));
  }

  async renew(member: string, expiresAt: number): Promise<boolean> {
    return (await withRedis(() => RENEW.run(this.client, [this.key], [expiresAt, member]))) === 1;
  }

  async release(member: string): Promise<boolean> {
    return (await withRedis(() => this.client.zrem(this.key, member))) === 1;
  }

  async takeExpired(now: number, limit: number): Promise<string[]> {
    return (await withRedis(() =>
      TAKE_EXPIRED.run(this.client, [this.key], [now, limit]),
    )) as string[];
  }
}
