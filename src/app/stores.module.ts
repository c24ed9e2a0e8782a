import { Global, Inject, Module, type OnApplicationShutdown } from '@nestjs/common';
import { EVENT_STORE } from '../core/event-store.port.js';
import { EventPublisher } from '../core/publisher.js';
import { LOGGER } from '../core/support/json-logger.js';
import { countByType, GatewayMetrics } from '../core/support/metrics.js';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { CONNECTION_LIMITER } from '../delivery/sessions/connection-limiter.port.js';
import { STORE_HEALTH } from '../delivery/sessions/lifecycle.js';
import { RateLimits } from '../delivery/sessions/rate-limits.js';
import { REVOCATION_STORE } from '../delivery/sessions/revocation-store.port.js';
import { SSE_TICKET_STORE } from '../delivery/sessions/ticket-store.port.js';
import { openStores, type Stores } from './stores.js';

/** All of the gateway's stores (see `openStores`). */
import { PRESENCE_LEASES } from '../delivery/agents/presence-leases.port.js';

export const STORES = Symbol('Stores');

class StoresShutdown implements OnApplicationShutdown {
  constructor(@Inject(STORES) private readonly stores: Stores) {}
  async onApplicationShutdown(): Promise<void> {
    await this.stores.close();
  }
}

const fromStores = <K extends keyof Stores>(token: symbol, key: K) => ({
  provide: token,
  inject: [STORES],
  useFactory: (stores: Stores) => stores[key],
});

/**
 * The stores, opened while the application boots (an async provider), and
 * what is built directly on them: the publisher (every module publishes
 * through `EventPublisher`) and the rate limits.
 */
@Global()
@Module({
  providers: [
    {
      provide: STORES,
      inject: [APP_CONFIG, LOGGER, GatewayMetrics],
      useFactory: openStores,
    },
    fromStores(EVENT_STORE, 'events'),
    fromStores(REVOCATION_STORE, 'revocations'),
    fromStores(SSE_TICKET_STORE, 'tickets'),
    fromStores(CONNECTION_LIMITER, 'connections'),
    fromStores(STORE_HEALTH, 'health'),
    fromStores(PRESENCE_LEASES, 'presence'),
    {
      provide: EventPublisher,
      inject: [STORES, GatewayMetrics],
      useFactory: (stores: Stores, metrics: GatewayMetrics) =>
        new EventPublisher(stores.events, {
          onPublished: (events) => countByType(metrics.eventsPublished, events),
        }),
    },
    {
      provide: RateLimits,
      inject: [STORES, APP_CONFIG],
      useFactory: (stores: Stores, config: AppConfig) =>
        new RateLimits(
          {
            handshakesPerMinute: config.limits.handshakesPerMinute,
            publishPerSecond: config.limits.publishPerSecond,
            readsPerSecond: config.limits.readsPerSecond,
            commandsPerSecond: config.limits.commandsPerSecond,
          },
          stores.limiters,
        ),
    },
    StoresShutdown,
  ],
  exports: [
    STORES,
    EVENT_STORE,
    REVOCATION_STORE,
    SSE_TICKET_STORE,
    CONNECTION_LIMITER,
    STORE_HEALTH,
    PRESENCE_LEASES,
    EventPublisher,
    RateLimits,
  ],
})
export class StoresModule {}
