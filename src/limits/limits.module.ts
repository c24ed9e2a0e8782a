import { Global, Module } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { REDIS_CONNECTIONS } from '../redis/redis.module.js';
import type { RedisConnections } from '../redis/redis-connections.js';
import { RedisKeys } from '../redis/keys.js';
import { CONNECTION_LIMITER } from './connection-limiter.port.js';
import { ConnectionLeases } from './connection-leases.service.js';
import { MemoryConnectionLimiter } from './memory-connection-limiter.js';
import { RateLimits } from './rate-limits.js';
import { RedisConnectionLimiter } from './redis-connection-limiter.js';

/** Cluster-wide limits: per-user connection slots and rate limits, in Redis (memory when embedded). */
@Global()
@Module({
  providers: [
    {
      provide: CONNECTION_LIMITER,
      inject: [APP_CONFIG, REDIS_CONNECTIONS, RedisKeys],
      useFactory: (config: AppConfig, redis: RedisConnections | null, keys: RedisKeys) => {
        const leaseMs = config.limits.connectionLeaseSeconds * 1000;
        return redis
          ? new RedisConnectionLimiter(redis.command, keys, leaseMs)
          : new MemoryConnectionLimiter(leaseMs);
      },
    },
    {
      provide: RateLimits,
      inject: [APP_CONFIG, REDIS_CONNECTIONS, RedisKeys],
      useFactory: (config: AppConfig, redis: RedisConnections | null, keys: RedisKeys) =>
        new RateLimits(
          {
            handshakesPerMinute: config.limits.handshakesPerMinute,
            publishPerSecond: config.limits.publishPerSecond,
            readsPerSecond: config.limits.readsPerSecond,
          },
          redis ? { client: redis.command, keys } : null,
        ),
    },
    ConnectionLeases,
  ],
  exports: [ConnectionLeases, RateLimits],
})
export class LimitsModule {}
