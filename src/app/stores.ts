import { CircuitBreaker, type BreakerState } from '../core/support/circuit-breaker.js';
import { UnavailableError } from '../core/errors.js';
import type { EventStore } from '../core/event-store.port.js';
import type { JsonLogger } from '../core/support/json-logger.js';
import type { GatewayMetrics } from '../core/support/metrics.js';
import type { AppConfig } from '../config/app-config.js';
import type { ConnectionLimiter } from '../delivery/sessions/connection-limiter.port.js';
import type { StoreHealth } from '../delivery/sessions/lifecycle.js';
import type { LimiterFactory } from '../delivery/sessions/rate-limits.js';
import type { RevocationStore } from '../delivery/sessions/revocation-store.port.js';
import { CachedRevocationStore } from '../delivery/sessions/cached-revocation-store.js';
import type { SseTicketStore } from '../delivery/sessions/ticket-store.port.js';
import { MemoryConnectionLimiter } from '../adapters/memory/memory-connection-limiter.js';
import { MemoryEventStore } from '../adapters/memory/memory-event-store.js';
import { memoryLimiters } from '../adapters/memory/memory-rate-limiter.js';
import { MemoryRevocationStore } from '../adapters/memory/memory-revocation-store.js';
import { MemoryTicketStore } from '../adapters/memory/memory-ticket-store.js';
import { MemoryPresenceLeases } from '../adapters/memory/memory-presence-leases.js';
import { RedisPresenceLeases } from '../adapters/redis/redis-presence-leases.js';
import type { PresenceLeases } from '../delivery/agents/presence-leases.port.js';
import { RedisKeys } from '../adapters/redis/keys.js';
import { RedisConnectionLimiter } from '../adapters/redis/redis-connection-limiter.js';
import { RedisConnections } from '../adapters/redis/redis-connections.js';
import { RedisEventStore } from '../adapters/redis/redis-event-store.js';
import { redisLimiters } from '../adapters/redis/redis-rate-limiter.js';
import { RedisRevocationStore } from '../adapters/redis/redis-revocation-store.js';
import { RedisTicketStore } from '../adapters/redis/redis-ticket-store.js';

/** Every store the gateway keeps state in: all in memory, or all in Redis. */
export interface Stores {
  events: EventStore;
  revocations: RevocationStore;
  tickets: SseTicketStore;
  connections: ConnectionLimiter;
  limiters: LimiterFactory;
  presence: PresenceLeases;
  health: StoreHealth;
  /** The Redis connections (null when embedded), for what else needs Redis: the Socket.IO adapter's config. */
  redis: RedisConnections | null;
  close(): Promise<void>;
}

const BREAKER_GAUGE: Record<BreakerState, number> = { closed: 0, 'half-open': 1, open: 2 };

/**
 * The one place where memory or Redis is chosen: Redis when REDIS_URL or
 * REDIS_CLUSTER_NODES is set, memory (embedded mode, one replica) otherwise.
 * Resolves once Redis is connected, so the server never listens before its
 * stores are usable.
 */
export function openStores(
  config: AppConfig,
  logger: JsonLogger,
  metrics: GatewayMetrics,
): Promise<Stores> {
  const onHandlerError = (error: unknown, events: readonly { type: string; id: string }[]) =>
    logger.event('error', 'event handler failed', {
      error,
      type: events[0]?.type,
      id: events[0]?.id,
    });
  if (!config.redisUrl && !config.redisClusterNodes) {
    const ttlMs = config.revocationTtlSeconds * 1000;
    return Promise.resolve({
      events: new MemoryEventStore(config.history, { onHandlerError }),
      revocations: new MemoryRevocationStore(ttlMs),
      tickets: new MemoryTicketStore(),
      connections: new MemoryConnectionLimiter(config.limits.connectionLeaseSeconds * 1000),
      limiters: memoryLimiters,
      presence: new MemoryPresenceLeases(),
      health: { status: () => 'embedded' },
      redis: null,
      close: () => Promise.resolve(),
    });
  }
  return redisStores(config, logger, metrics, onHandlerError);
}

async function redisStores(
  config: AppConfig,
  logger: JsonLogger,
  metrics: GatewayMetrics,
  onHandlerError: (error: unknown, events: readonly { type: string; id: string }[]) => void,
): Promise<Stores> {
  const redis = new RedisConnections({
    url: config.redisUrl,
    clusterNodes: config.redisClusterNodes,
    commandTimeoutMs: config.redis.commandTimeoutMs,
    heartbeatMs: config.redis.heartbeatMs,
    onError: (role, error) => logger.event('warn', 'redis error', { role, error: error.message }),
    onStateChange: (role, state) => {
      metrics.redisConnected.set({ role }, state === 'ready' ? 1 : 0);
      logger.event(state === 'ready' ? 'info' : 'warn', `redis ${state}`, { role });
    },
  });
  await redis.connect();
  logger.event('info', 'redis connected', { version: redis.version });
  const keys = new RedisKeys(config.redisKeyPrefix);

  metrics.breakerState.set(0);
  const breaker = new CircuitBreaker({
    ...config.breaker,
    isFailure: (error) => error instanceof UnavailableError,
    onStateChange: (state) => {
      metrics.breakerState.set(BREAKER_GAUGE[state]);
      logger.event(state === 'open' ? 'warn' : 'info', `redis write circuit ${state}`);
    },
  });
  const events = new RedisEventStore(redis.command, redis.subscriber, {
    keys,
    limits: config.history,
    onHandlerError,
    onError: (context, error) => logger.event('error', 'live channel', { context, error }),
    guard: { breaker, writable: () => redis.commandUsable() },
  });

  const revocations = new RedisRevocationStore(
    redis.command,
    redis.subscriber,
    keys,
    config.revocationTtlSeconds,
    (error) => logger.event('error', 'bad revocation message', { error }),
  );
  await revocations.listen();

  return {
    events,
    revocations: new CachedRevocationStore(revocations),
    tickets: new RedisTicketStore(redis.command, keys),
    connections: new RedisConnectionLimiter(
      redis.command,
      keys,
      config.limits.connectionLeaseSeconds * 1000,
    ),
    limiters: redisLimiters(redis.command, keys),
    presence: new RedisPresenceLeases(redis.command, keys),
    health: { status: () => (redis.isReady() ? 'ready' : 'down') },
    redis,
    close: () => redis.close(),
  };
}
