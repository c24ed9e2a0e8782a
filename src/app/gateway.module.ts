import {
  Inject,
  Module,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { hostname } from 'node:os';
import { EventPublisher } from '../core/publisher.js';
import { AgentsService } from '../delivery/agents/agents.service.js';
import { PRESENCE_LEASES, type PresenceLeases } from '../delivery/agents/presence-leases.port.js';
import { RateLimits } from '../delivery/sessions/rate-limits.js';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { EVENT_STORE, type EventStore } from '../core/event-store.port.js';
import { LOGGER, type JsonLogger } from '../core/support/json-logger.js';
import { GatewayMetrics } from '../core/support/metrics.js';
import { SubscriptionService } from '../delivery/subscription.service.js';
import { EventsGateway } from '../transports/socketio/events.gateway.js';

/** Subscriptions (every transport's), and the Socket.IO gateway. */
@Module({
  providers: [
    {
      provide: SubscriptionService,
      inject: [EVENT_STORE, APP_CONFIG, GatewayMetrics, LOGGER],
      useFactory: (
        store: EventStore,
        config: AppConfig,
        metrics: GatewayMetrics,
        logger: JsonLogger,
      ) => new SubscriptionService(store, config, metrics, logger),
    },
    {
      provide: AgentsService,
      inject: [
        EVENT_STORE,
        EventPublisher,
        PRESENCE_LEASES,
        RateLimits,
        APP_CONFIG,
        GatewayMetrics,
        LOGGER,
      ],
      useFactory: (
        store: EventStore,
        publisher: EventPublisher,
        leases: PresenceLeases,
        rateLimits: RateLimits,
        config: AppConfig,
        metrics: GatewayMetrics,
        logger: JsonLogger,
      ) => {
        const agents = new AgentsService(
          store,
          publisher,
          leases,
          rateLimits,
          { replica: `${hostname()}:${process.pid}`, ...config.agents },
          logger,
        );
        metrics.countInternal(() => agents.counts());
        return agents;
      },
    },
    EventsGateway,
  ],
  exports: [SubscriptionService, AgentsService],
})
export class GatewayModule implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(@Inject(AgentsService) private readonly agents: AgentsService) {}

  onApplicationBootstrap(): void {
    this.agents.start();
  }

  onApplicationShutdown(): void {
    this.agents.stop();
  }
}
