import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The gateway's Prometheus metrics; names are prefixed `gateway_`. */
export class GatewayMetrics {
  readonly registry = new Registry();

  readonly connectedSockets = new Gauge({
    name: 'gateway_connected_sockets',
    help: 'Socket.IO connections open on this replica',
    registers: [this.registry],
  });
  readonly subscriptions = new Gauge({
    name: 'gateway_subscriptions',
    help: 'Project subscriptions held by sockets on this replica',
    registers: [this.registry],
  });
  readonly listenedProjects = new Gauge({
    name: 'gateway_live_channels',
    help: 'Project live channels this replica listens to',
    registers: [this.registry],
  });
  readonly eventsPublished = new Counter({
    name: 'gateway_events_published_total',
    help: 'Events published through this replica, by type',
    labelNames: ['type'] as const,
    registers: [this.registry],
  });
  readonly eventsDelivered = new Counter({
    name: 'gateway_events_delivered_total',
    help: 'Events written to viewers on this replica (one per viewer), by type',
    labelNames: ['type'] as const,
    registers: [this.registry],
  });
  readonly publishToEmit = new Histogram({
    name: 'gateway_publish_to_emit_seconds',
    help: 'From occurredAt (publish) to the live emit on this replica',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly redisConnected = new Gauge({
    name: 'gateway_redis_connected',
    help: '1 when the Redis connection of that role is ready (embedded mode: absent)',
    labelNames: ['role'] as const,
    registers: [this.registry],
  });
  readonly rejectedMessages = new Counter({
    name: 'gateway_rejected_messages_total',
    help: 'Socket messages answered with an error, by code',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'gateway_process_' });
  }
}
