import { Module } from '@nestjs/common';
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
    EventsGateway,
  ],
  exports: [SubscriptionService],
})
export class GatewayModule {}
