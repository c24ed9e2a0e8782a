import type { EventEnvelope, PublishInput } from './envelope.js';

export type EventHandler = (event: EventEnvelope) => void;

export type LiveState = 'interrupted' | 'restored';

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
   * `listener` hears when the live channels are interrupted (a dropped or
   * silent subscriber connection, a Redis restart) and when they are
   * re-established: events published in between may have been missed and must
   * be read from history, and live events arriving after the reconnect must
   * wait until that read is done. Never called by the in-memory bus.
   */
  onLiveStateChange(listener: (state: LiveState) => void): void;
}

export const EVENT_BUS = Symbol('EventBus');

/** The most events one publish call takes (the HTTP API's array limit). */
export const MAX_EVENTS_PER_PUBLISH = 100;
