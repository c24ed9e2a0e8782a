import { Global, Module } from '@nestjs/common';
import { CircuitBreaker, type BreakerState } from '../common/circuit-breaker.js';
import { UnavailableError } from '../common/errors.js';
import { LOGGER, type JsonLogger } from '../common/json-logger.js';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { GatewayMetrics } from '../ops/metrics.js';
import { REDIS_CONNECTIONS } from '../redis/redis.module.js';
import type { RedisConnections } from '../redis/redis-connections.js';
import { RedisKeys } from '../redis/keys.js';
import { EVENT_HISTORY } from './event-history.port.js';
import { GuardedEventHistory } from './guarded-event-history.js';
import { MemoryEventHistory } from './memory/memory-event-history.js';
import { RedisEventHistory } from './redis/redis-event-history.js';

const BREAKER_GAUGE: Record<BreakerState, number> = { closed: 0, 'half-open': 1, open: 2 };

/** EVENT_HISTORY: Redis Streams (behind a circuit breaker) with REDIS_URL, in memory without. */
@Global()
@Module({
  providers: [
    {
      provide: EVENT_HISTORY,
      inject: [APP_CONFIG, REDIS_CONNECTIONS, RedisKeys, GatewayMetrics, LOGGER],
      useFactory: (
        config: AppConfig,
        redis: RedisConnections | null,
        keys: RedisKeys,
        metrics: GatewayMetrics,
        logger: JsonLogger,
      ) => {
        if (!redis) return new MemoryEventHistory(config.history);
        metrics.breakerState.set(0);
        const breaker = new CircuitBreaker({
          ...config.breaker,
          isFailure: (error) => error instanceof UnavailableError,
          onStateChange: (state) => {
            metrics.breakerState.set(BREAKER_GAUGE[state]);
            logger.event(state === 'open' ? 'warn' : 'info', `redis write circuit ${state}`);
          },
        });
        const history = new RedisEventHistory(redis.command, { keys, limits: config.history });
        return new GuardedEventHistory(history, breaker, () => redis.commandUsable());
      },
    },
  ],
  exports: [EVENT_HISTORY],
})
export class HistoryModule {}
