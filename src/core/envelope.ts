import type { EventPayloads, EventType } from './registry.js';

/** An event as every client receives it. */
export interface EventEnvelope<T extends EventType = EventType> {
  /** Redis stream id `<ms>-<seq>`: the total order within its stream. */
  id: string;
  type: T;
  projectId: string;
  /** ISO 8601, stamped by the gateway at publish. */
  occurredAt: string;
  /** Given by the producer, else the publishing token's `sub`. */
  source: string;
  data: EventPayloads[T];
}

/** Any envelope, discriminated by `type`, so `switch (e.type)` narrows `data`. */
export type AnyEventEnvelope = { [T in EventType]: EventEnvelope<T> }[EventType];

/**
 * What a producer hands to `EventBus.publish`. The mapped union makes a wrong
 * payload for a known type a compile error.
 */
export type PublishInput = {
  [T in EventType]: { type: T; projectId: string; data: EventPayloads[T]; source?: string };
}[EventType];

/** An event validated and stamped, waiting for its id from the store. */
export interface PendingEvent {
  type: EventType;
  projectId: string;
  occurredAt: string;
  source: string;
  data: EventPayloads[EventType];
  /** Snapshot key, or null when the type has none. */
  entityKey: string | null;
  /** The entity has ended and may age out of the snapshot. */
  ends: boolean;
  /**
   * Who the entity belongs to (`agent:<id>` for a command), or null: the
   * store keeps each owner's entities that have not ended, to be read
   * without the whole snapshot.
   */
  owner: string | null;
  /** Log line: goes to the run's stream instead of the project's. */
  runId: string | null;
}

/** A snapshot: entity key to that entity's latest envelope, consistent with `position`. */
export interface Snapshot {
  position: string;
  snapshot: Record<string, EventEnvelope>;
}
