import type { EventEnvelope, PendingEvent, Snapshot } from './envelope.js';
import { GatewayError } from './errors.js';
import type { IdempotencyClaim, IdempotencyRecord } from './idempotency.js';

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
 * Events of one project as they went live, in id order. `text` is their JSON,
 * exactly `JSON.stringify(events)`, when the store has it (the live message as
 * received): a batch made of whole messages is then written to sockets without
 * serializing it again. Absent once a batch was filtered or merged.
 */
export interface EventBatch {
  readonly events: readonly EventEnvelope[];
  readonly text?: string;
}

/** `JSON.stringify(batch.events)`, from its text when it carries one. */
export function batchJson(batch: EventBatch): string {
  return batch.text ?? JSON.stringify(batch.events);
}

/**
 * A condition of a conditional append on one entity: its latest event must be
 * `version` (an event id), or, when `version` is null, it must have none yet.
 */
export interface Expectation {
  entityKey: string;
  version: string | null;
}

/** What a refused conditional append says about the entity it was refused for. */
export interface ConflictDetails {
  entityKey: string;
  /** The entity's version now (the id of its latest event), null when it has none. */
  version: string | null;
  /** Its latest event, null when it has none. */
  current: EventEnvelope | null;
}

/** A conditional append refused: nothing was appended. */
export function conflict(details: ConflictDetails, message?: string): GatewayError {
  return new GatewayError(
    'CONFLICT',
    message ??
      `${details.entityKey} is at ${details.version ?? 'no version'}, not the expected one: nothing was published`,
    details,
  );
}

/** A write refused over an entity's current state (`current`, null for none): CONFLICT carrying it. */
export function conflictWith(
  entityKey: string,
  current: EventEnvelope | null,
  message?: string,
): GatewayError {
  return conflict({ entityKey, version: current?.id ?? null, current }, message);
}

/** `appendOnce`: the events appended now, or the record of the write that claimed the key first. */
export type AppendOnceResult =
  { replayed: false; events: EventEnvelope[] } | { replayed: true; record: IdempotencyRecord };

export type LiveHandler = (batch: EventBatch) => void;

/** Whether live delivery may have missed events (`interrupted`) or is whole again (`restored`). */
export type LiveState = 'interrupted' | 'restored';

export interface LiveSubscription {
  readonly projectId: string;
  readonly pattern: string;
}

/**
 * The event store: history, the latest state per entity, and live delivery,
 * behind one port, because they are one atomic step. `append` adds events to
 * the capped stream, records each as its entity's latest, and announces them
 * on the project's live channel, all at once, so a snapshot read with its
 * stream position is consistent by construction, and every replica's
 * subscribers of that project receive what was appended.
 *
 * `append` takes events already validated and stamped (`EventPublisher`
 * does that): a store holds no rules about payloads.
 */
export interface EventStore {
  /**
   * All or nothing; every event must belong to one project. Ids come back in
   * order. With `expectations`, only if every entity named is at its expected
   * version when the append happens (checked in the same atomic step, so of
   * two writers racing on one entity exactly one wins); otherwise nothing is
   * appended and the promise rejects with `CONFLICT` (`ConflictDetails`).
   */
  append(events: PendingEvent[], expectations?: readonly Expectation[]): Promise<EventEnvelope[]>;
  /**
   * `append`, claiming an idempotency record in the same atomic step: when
   * `claim.key` is already recorded, nothing is appended and the record comes
   * back instead (whatever its fingerprint: the caller judges it). The record
   * is checked before the expectations, so a retry of a write that went
   * through is a replay, not a conflict with itself.
   */
  appendOnce(
    events: PendingEvent[],
    claim: IdempotencyClaim,
    expectations?: readonly Expectation[],
  ): Promise<AppendOnceResult>;
  /** The record of an idempotent write of `projectId`, or null (never made, or expired). */
  readIdempotency(projectId: string, key: string): Promise<IdempotencyRecord | null>;
  /**
   * The latest event of each entity named, in order, null for one the
   * snapshot does not hold (never written, or ended and aged out): what a
   * writer reads before a conditional append on them.
   */
  readEntities(projectId: string, entityKeys: readonly string[]): Promise<(EventEnvelope | null)[]>;
  /**
   * The latest event of each entity of `owner` (see the registry's `owner`)
   * that has not ended, in no particular order: an agent's unfinished
   * commands, read without the snapshot.
   */
  readOpen(projectId: string, owner: string): Promise<EventEnvelope[]>;
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
  /**
   * Live batches of `projectId` whose types match `pattern` (`*` for all);
   * resolves once live, so "subscribe, then read history" never misses an
   * event in between. A replica listens to a project's channel only while it
   * has subscribers of it.
   */
  subscribe(projectId: string, pattern: string, handler: LiveHandler): Promise<LiveSubscription>;
  unsubscribe(subscription: LiveSubscription): Promise<void>;
  /** Projects this replica is listening to right now (for metrics and tests). */
  listeningProjects(): string[];
  /**
   * `listener` hears when live delivery is interrupted (a dropped or silent
   * subscriber connection, a Redis restart) and when it is re-established:
   * events appended in between may have been missed and must be read from
   * history, and live events arriving after the reconnect must wait until
   * that read is done. Never called by the in-memory store.
   */
  onLiveStateChange(listener: (state: LiveState) => void): void;
}

export const EVENT_STORE = Symbol('EventStore');
