import { Global, Module } from '@nestjs/common';
import { LOGGER, type JsonLogger } from '../common/json-logger.js';
import { EVENT_HISTORY, type EventHistory } from '../history/event-history.port.js';
import { MemoryEventHistory } from '../history/memory/memory-event-history.js';
import { countByType, GatewayMetrics } from '../ops/metrics.js';
import { REDIS_CONNECTIONS } from '../redis/redis.module.js';
import type { RedisConnections } from '../redis/redis-connections.js';
import { RedisKeys } from '../redis/keys.js';
import type { BusOptions } from './base-event-bus.js';
import { EVENT_BUS } from './event-bus.port.js';
import { MemoryEventBus } from './memory/memory-event-bus.js';
import { RedisEventBus } from './redis/redis-event-bus.js';

/**
 * EVENT_BUS for every module: domain modules publish typed events through it,
 * the gateway subscribes to it per project.
 */
@Global()
@Module({
  providers: [
    {
      provide: EVENT_BUS,
      inject: [EVENT_HISTORY, REDIS_CONNECTIONS, RedisKeys, GatewayMetrics, LOGGER],
      useFactory: (
        history: EventHistory,
        redis: RedisConnections | null,
        keys: RedisKeys,
        metrics: GatewayMetrics,
        logger: JsonLogger,
      ) => {
        const options: BusOptions = {
          onPublished: (events) => countByType(metrics.eventsPublished, events),
          onHandlerError: (error, event) =>
            logger.event('error', 'event handler failed', {
              error,
              type: event.type,
              id: event.id,
            }),
        };
        if (redis) {
          return new RedisEventBus(history, redis.subscriber, {
            ...options,
            keys,
            onError: (context, error) => logger.event('error', 'live channel', { context, error }),
          });
        }
        return new MemoryEventBus(history as MemoryEventHistory, options);
      },
    },
  ],
  exports: [EVENT_BUS],
})
export class EventsModule {}
