import { RateLimiterMemory, RateLimiterRedis } from 'rate-limiter-flexible';
import type { LimiterFactory } from '../../delivery/sessions/rate-limits.js';
import type { RedisKeys } from './keys.js';
import type { RedisCommandClient } from './lua-script.js';

/**
 * Limits shared by every replica, in Redis. When Redis cannot answer, each
 * replica falls back to the same limit in its own memory (rate-limiter-flexible's
 * insurance limiter) rather than letting everything through or nothing.
 */
export function redisLimiters(client: RedisCommandClient, keys: RedisKeys): LimiterFactory {
  return (kind, points, duration) =>
    new RateLimiterRedis({
      storeClient: client,
      keyPrefix: keys.rateLimit(kind),
      points,
      duration,
      insuranceLimiter: new RateLimiterMemory({ points, duration, keyPrefix: kind }),
    });
}
