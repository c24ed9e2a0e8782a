import { Global, Inject, Module, type OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { LOGGER, type JsonLogger } from '../common/json-logger.js';
import { GatewayMetrics } from '../ops/metrics.js';
import { RedisConnections } from './redis-connections.js';
import { RedisKeys } from './keys.js';

/** `RedisConnections`, or null in embedded mode (no REDIS_URL). */
export const REDIS_CONNECTIONS = Symbol('RedisConnections');

class RedisShutdown implements OnApplicationShutdown {
  constructor(@Inject(REDIS_CONNECTIONS) private readonly connections: RedisConnections | null) {}
  async onApplicationShutdown(): Promise<void> {
    await this.connections?.close();
  }
}

/**
 * Connects to Redis while the application boots (an async provider), so the
 * server never listens before its Redis is usable; closes it on shutdown.
 */
@Global()
@Module({
  providers: [
    {
      provide: REDIS_CONNECTIONS,
      inject: [APP_CONFIG, LOGGER, GatewayMetrics],
      useFactory: async (config: AppConfig, logger: JsonLogger, metrics: GatewayMetrics) => {
        if (!config.redisUrl && !config.redisClusterNodes) return null;
        const connections = new RedisConnections({
          url: config.redisUrl,
          clusterNodes: config.redisClusterNodes,
          commandTimeoutMs: config.redis.commandTimeoutMs,
          heartbeatMs: config.redis.heartbeatMs,
          onError: (role, error) =>
            logger.event('warn', 'redis error', { role, error: error.message }),
          onStateChange: (role, state) => {
            metrics.redisConnected.set({ role }, state === 'ready' ? 1 : 0);
            logger.event(state === 'ready' ? 'info' : 'warn', `redis ${state}`, { role });
          },
        });
        await connections.connect();
        logger.event('info', 'redis connected', { version: connections.version });
        return connections;
      },
    },
    {
      provide: RedisKeys,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => new RedisKeys(config.redisKeyPrefix),
    },
    RedisShutdown,
  ],
  exports: [REDIS_CONNECTIONS, RedisKeys],
})
export class RedisModule {}
