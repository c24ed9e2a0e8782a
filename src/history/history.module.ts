import { Global, Module } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { REDIS_CONNECTIONS } from '../redis/redis.module.js';
import type { RedisConnections } from '../redis/redis-connections.js';
import { RedisKeys } from '../redis/keys.js';
import { EVENT_HISTORY } from './event-history.port.js';
import { MemoryEventHistory } from './memory/memory-event-history.js';
import { RedisEventHistory } from './redis/redis-event-history.js';

/** EVENT_HISTORY: Redis Streams with REDIS_URL, in memory without. */
@Global()
@Module({
  providers: [
    {
      provide: EVENT_HISTORY,
      inject: [APP_CONFIG, REDIS_CONNECTIONS, RedisKeys],
      useFactory: (config: AppConfig, redis: RedisConnections | null, keys: RedisKeys) =>
        redis
          ? new RedisEventHistory(redis.command, {
              keys,
              limits: config.history,
            })
          : new MemoryEventHistory(config.history),
    },
  ],
  exports: [EVENT_HISTORY],
})
export class HistoryModule {}
