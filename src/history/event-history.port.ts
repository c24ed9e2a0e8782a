import type { EventEnvelope, PendingEvent, Snapshot } from '../events/envelope.js';

/** Which stream: the project's, or one run's log lines (`runId`). */
export interface StreamRef {
  projectId: string;
  runId?: string;
}

/** A stream's key in maps: the project, or project and run (ids never contain `/`). */
export function streamKey(stream: StreamRef): string {
  return stream.runId === undefined ? stream.projectId : `${stream.projectId}/${stream.runId}`;
}

export type ReadAfterResult =
  | {
      /** Every event after `since` is still held: these are they (up to `limit`). */
      held: true;
      events: EventEnvelope[];
      /** The stream's last id when read. */
      lastId: string;
      hasMore: boolean;
    }
  | {
      /** Something after `since` was trimmed or lost, or `since` was never issued. */
      held: false;
      /** Every event after this id is still held (the highest trimmed id); absent when the stream is gone. */
      heldAfter?: string;
    };

/** `readTypesAfter`: like `ReadAfterResult`, with each event's id and type only. */
export type ReadTypesResult =
  | { held: true; entries: { id: string; type: string }[]; lastId: string; hasMore: boolean }
  | { held: false };

export interface LatestResult {
  events: EventEnvelope[];
  lastId: string;
  hasMore: boolean;
}

export interface HistoryLimits {
  /** Events kept per project stream. */
  maxEvents: number;
  /** Log lines kept per run stream. */
  maxLogLines: number;
  /** Seconds a run's log stream lives after its last line. */
  logTtlSeconds: number;
  /** Seconds an ended entity (finished run, done task) stays in the snapshot. */
  endedTtlSeconds: number;
}

/**
 * The history port. `append` is the one atomic step of the design: it appends
 * to the capped stream, records each event as its entity's latest, and
 * publishes on the project's live channel, so a snapshot read with its stream
 * position is consistent by construction.
 */
export interface EventHistory {
  /** All or nothing; every event must belong to one project. Ids come back in order. */
  append(events: PendingEvent[]): Promise<EventEnvelope[]>;
  /** Events after `since` (exclusive), oldest first, or `held: false`. `"0-0"` is the start. */
  readAfter(stream: StreamRef, since: string, limit: number): Promise<ReadAfterResult>;
  /**
   * As `readAfter`, with only each event's id and type: what a reader needs
   * to count a long replay without holding or parsing it.
   */
  readTypesAfter(stream: StreamRef, since: string, limit: number): Promise<ReadTypesResult>;
  /** The latest `limit` events, oldest first. */
  readLatest(stream: StreamRef, limit: number): Promise<LatestResult>;
  /** Latest envelope per entity and the project stream id it is consistent with. */
  snapshot(projectId: string): Promise<Snapshot>;
}

export const EVENT_HISTORY = Symbol('EventHistory');
