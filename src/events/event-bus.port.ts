import type { EventEnvelope, PublishInput } from './envelope.js';

export type EventHandler = (event: EventEnvelope) => void;

export interface BusSubscription {
  readonly projectId: string;
  readonly pattern: string;
}

/**
 * The bus port. `publish` validates against the registry, stamps `occurredAt`
 * and stores through the history's atomic append; every replica's subscribers
 * of that project then receive it. A subscription resolves once it is live, so
 * "subscribe, then read history" never misses an event in between.
 */
export interface EventBus {
  publish(input: PublishInput): Promise<EventEnvelope>;
  /** All or nothing, one project; at most 100 events. */
  publishMany(inputs: readonly PublishInput[]): Promise<EventEnvelope[]>;
  /** Untrusted input (HTTP API): validated here, coded INVALID_PAYLOAD on failure. */
  publishUnchecked(
    projectId: string,
    inputs: readonly unknown[],
    defaultSource: string,
  ): Promise<EventEnvelope[]>;
  subscribe(projectId: string, pattern: string, handler: EventHandler): Promise<BusSubscription>;
  unsubscribe(subscription: BusSubscription): Promise<void>;
  /** Projects this replica is listening to right now (for metrics and tests). */
  listeningProjects(): string[];
  /**
   * `listener` runs each time the live channels were re-established after an
   * interruption (a dropped or silent subscriber connection, a Redis restart):
   * events published meanwhile may have been missed and must be read from
   * history. Never called by the in-memory bus.
   */
  onLiveRestored(listener: () => void): void;
}

export const EVENT_BUS = Symbol('EventBus');

/** The most events one publish call takes (the HTTP API's array limit). */
export const MAX_EVENTS_PER_PUBLISH = 100;
