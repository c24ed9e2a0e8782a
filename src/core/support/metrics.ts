import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Adds `events` to a counter by type, `times` each. One labelled increment per
 * type rather than per event: prom-client hashes the labels on every call,
 * and a batch is nearly always of one or two types.
 */
export function countByType(
  counter: Counter<'type'>,
  events: readonly { type: string }[],
  times = 1,
): void {
  const counts = new Map<string, number>();
  for (const event of events) counts.set(event.type, (counts.get(event.type) ?? 0) + 1);
  for (const [type, count] of counts) counter.inc({ type }, count * times);
}

/** The gateway's Prometheus metrics; names are prefixed `gateway_`. */
export class GatewayMetrics {
  readonly registry = new Registry();

  readonly connectedSockets = new Gauge({
    name: 'gateway_connected_sockets',
    help: 'Socket.IO connections open on this replica',
    registers: [this.registry],
  });
  readonly sseStreams = new Gauge({
    name: 'gateway_sse_streams',
    help: 'Server-Sent Events streams open on this replica',
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

  readonly breakerState = new Gauge({
    name: 'gateway_redis_circuit_state',
    help: 'Circuit breaker around Redis writes: 0 closed, 1 half-open, 2 open',
    registers: [this.registry],
  });
  readonly liveRestores = new Counter({
    name: 'gateway_live_restores_total',
    help: 'Times the live channels were re-established after an interruption',
    registers: [this.registry],
  });
  readonly backfilledEvents = new Counter({
    name: 'gateway_backfilled_events_total',
    help: 'Events read from history to fill a gap in a live channel',
    registers: [this.registry],
  });
  readonly resyncs = new Counter({
    name: 'gateway_resyncs_total',
    help: 'subscription:resync sent to viewers because history behind them was lost',
    registers: [this.registry],
  });
  readonly slowViewers = new Gauge({
    name: 'gateway_slow_viewers',
    help: 'Viewer subscriptions whose live events are queued (over the soft limit)',
    registers: [this.registry],
  });
  readonly mergedEvents = new Counter({
    name: 'gateway_slow_viewer_merged_events_total',
    help: 'Queued events replaced by a later event of the same entity for a slow viewer',
    registers: [this.registry],
  });
  readonly droppedEvents = new Counter({
    name: 'gateway_slow_viewer_dropped_events_total',
    help: 'Queued events discarded when a slow viewer passed the hard limit',
    registers: [this.registry],
  });
  readonly laggedViewers = new Counter({
    name: 'gateway_lagged_disconnects_total',
    help: 'Viewers sent subscription:lagged and disconnected at the hard limit',
    registers: [this.registry],
  });
  readonly draining = new Gauge({
    name: 'gateway_draining',
    help: '1 while this replica drains its connections before exiting',
    registers: [this.registry],
  });
  readonly internalObjects = new Gauge({
    name: 'gateway_internal_objects',
    help: 'Internal per-viewer state by kind (rooms, socket states, timers, feeds, bus channels); returns to 0 when idle (token_cache: the tokens verified in the last active minute)',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  readonly batchWindow = new Gauge({
    name: 'gateway_batch_window_ms',
    help: 'Current live batch window (widens with event-loop load, up to BATCH_WINDOW_MS)',
    registers: [this.registry],
  });

  private readonly collectors: (() => void)[] = [];

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'gateway_' });
  }

  /** Gauges read off internal state are set by collectors just before each scrape. */
  addCollector(collect: () => void): void {
    this.collectors.push(collect);
  }

  /** `gateway_internal_objects` by kind, read off `counts()` just before each scrape. */
  countInternal(counts: () => Record<string, number>): void {
    this.addCollector(() => {
      for (const [kind, value] of Object.entries(counts()))
        this.internalObjects.set({ kind }, value);
    });
  }

  async render(): Promise<string> {
    for (const collect of this.collectors) collect();
    return this.registry.metrics();
  }
}
