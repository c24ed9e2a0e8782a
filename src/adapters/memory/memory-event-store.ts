import { GatewayError } from '../../core/errors.js';
import { compareStreamIds, ZERO_ID } from '../../core/ids.js';
import type { EventEnvelope, PendingEvent, Snapshot } from '../../core/envelope.js';
import type { IdempotencyClaim, IdempotencyRecord } from '../../core/idempotency.js';
import {
  type AppendOnceResult,
  conflictWith,
  streamKey,
  type EventStore,
  type Expectation,
  type HistoryLimits,
  type LatestResult,
  type LiveHandler,
  type LiveState,
  type LiveSubscription,
  type ReadAfterResult,
  type ReadTypesResult,
  type StreamRef,
} from '../../core/event-store.port.js';
import { LiveChannels } from '../../core/live-channels.js';

interface Stream {
  entries: EventEnvelope[];
  lastId: string;
  /** Highest id trimmed away: anything at or below it may be gone. */
  maxDeletedId: string;
  /** ms timestamp after which a log stream is forgotten. */
  expiresAt?: number;
}

/**
 * Idempotency records one process keeps at most; past it the oldest go first
 * (a retry of a write that old is then published again). Redis keeps every
 * record for its whole window: its bound is the publish rate limit.
 */
export const MAX_MEMORY_IDEMPOTENCY_RECORDS = 100_000;

interface ProjectState {
  latest: Map<string, EventEnvelope>;
  /** entity key -> time (ms) it ended. */
  ended: Map<string, number>;
  /** Owner -> the keys of its entities that have not ended. */
  open: Map<string, Set<string>>;
}

/**
 * Embedded-mode store: the same rules as the Redis one (capped streams,
 * stream-style ids, latest per entity, ended entities ageing out, live
 * batches carrying their JSON text), in one process's memory.
 */
export class MemoryEventStore implements EventStore {
  private readonly streams = new Map<string, Stream>();
  private readonly states = new Map<string, ProjectState>();
  private readonly records = new Map<string, { record: IdempotencyRecord; expiresAt: number }>();
  private readonly live: LiveChannels;

  constructor(
    private readonly limits: HistoryLimits,
    options: {
      now?: () => number;
      onHandlerError?: (error: unknown, events: readonly EventEnvelope[]) => void;
    } = {},
  ) {
    this.now = options.now ?? Date.now;
    // One process: the channel is always open.
    const open = () => Promise.resolve();
    this.live = new LiveChannels({ listen: open, unlisten: open }, options.onHandlerError);
  }

  private readonly now: () => number;

  subscribe(projectId: string, pattern: string, handler: LiveHandler): Promise<LiveSubscription> {
    return this.live.subscribe(projectId, pattern, handler);
  }

  unsubscribe(subscription: LiveSubscription): Promise<void> {
    return this.live.unsubscribe(subscription);
  }

  listeningProjects(): string[] {
    return this.live.listeningProjects();
  }

  /** Never called: nothing between the store and its subscribers can drop. */
  onLiveStateChange(listener: (state: LiveState) => void): void {
    this.live.onLiveStateChange(listener);
  }

  append(
    events: PendingEvent[],
    expectations: readonly Expectation[] = [],
  ): Promise<EventEnvelope[]> {
    return settle(() => {
      const result = this.appendNow(events, expectations, null);
      return result.replayed ? [] : result.events;
    });
  }

  appendOnce(
    events: PendingEvent[],
    claim: IdempotencyClaim,
    expectations: readonly Expectation[] = [],
  ): Promise<AppendOnceResult> {
    return settle(() => this.appendNow(events, expectations, claim));
  }

  readIdempotency(projectId: string, key: string): Promise<IdempotencyRecord | null> {
    return Promise.resolve(this.record(`${projectId}/${key}`));
  }

  readEntities(
    projectId: string,
    entityKeys: readonly string[],
  ): Promise<(EventEnvelope | null)[]> {
    const state = this.state(projectId);
    this.pruneEnded(state, this.now());
    return Promise.resolve(entityKeys.map((key) => state.latest.get(key) ?? null));
  }

  readOpen(projectId: string, owner: string): Promise<EventEnvelope[]> {
    const state = this.state(projectId);
    const keys = state.open.get(owner) ?? new Set<string>();
    return Promise.resolve(
      [...keys].flatMap((key) => {
        const latest = state.latest.get(key);
        return latest ? [latest] : [];
      }),
    );
  }

  private record(name: string): IdempotencyRecord | null {
    const held = this.records.get(name);
    if (held && held.expiresAt <= this.now()) {
      this.records.delete(name);
      return null;
    }
    return held?.record ?? null;
  }

  private appendNow(
    events: PendingEvent[],
    expectations: readonly Expectation[],
    claim: IdempotencyClaim | null,
  ): AppendOnceResult {
    const projectId = events[0]?.projectId;
    if (projectId === undefined || events.some((e) => e.projectId !== projectId)) {
      throw new GatewayError('INVALID_PAYLOAD', 'one append takes events of exactly one project');
    }
    const recordName = claim ? `${projectId}/${claim.key}` : '';
    const recorded = claim ? this.record(recordName) : null;
    if (recorded) return { replayed: true, record: recorded };
    const now = this.now();
    const state = this.state(projectId);
    if (expectations.length > 0) {
      this.pruneEnded(state, now);
      for (const { entityKey, version } of expectations) {
        const current = state.latest.get(entityKey) ?? null;
        if ((current?.id ?? null) !== version) {
          throw conflictWith(entityKey, current);
        }
      }
    }
    const stored: EventEnvelope[] = [];
    for (const event of events) {
      const key = streamKey({ projectId, runId: event.runId ?? undefined });
      const stream = this.stream(key, true)!;
      const id = this.nextId(stream.lastId, now);
      const envelope = {
        id,
        type: event.type,
        projectId,
        occurredAt: event.occurredAt,
        source: event.source,
        data: event.data,
      } as EventEnvelope;
      stream.entries.push(envelope);
      stream.lastId = id;
      const cap = event.runId ? this.limits.maxLogLines : this.limits.maxEvents;
      if (stream.entries.length > cap) {
        const removed = stream.entries.splice(0, stream.entries.length - cap);
        stream.maxDeletedId = removed[removed.length - 1].id;
      }
      if (event.runId) stream.expiresAt = now + this.limits.logTtlSeconds * 1000;
      if (event.entityKey) {
        state.latest.set(event.entityKey, envelope);
        if (event.ends) state.ended.set(event.entityKey, now);
        else state.ended.delete(event.entityKey);
        if (event.owner) {
          const open = state.open.get(event.owner) ?? new Set<string>();
          if (event.ends) open.delete(event.entityKey);
          else open.add(event.entityKey);
          if (open.size) state.open.set(event.owner, open);
          else state.open.delete(event.owner);
        }
      }
      stored.push(envelope);
    }
    this.pruneEnded(state, now);
    // As Redis does: the announced batch is the stored envelopes' JSON, and it
    // arrives on a later tick, so a publisher never re-enters its own
    // subscribers synchronously.
    const batch = { events: stored, text: JSON.stringify(stored) };
    queueMicrotask(() => this.live.deliver(projectId, batch));
    if (claim) this.keep(recordName, claim, stored, now);
    return { replayed: false, events: stored };
  }

  private keep(name: string, claim: IdempotencyClaim, stored: EventEnvelope[], now: number): void {
    const record = {
      fingerprint: claim.fingerprint,
      answer: claim.answer,
      ids: stored.map((e) => e.id),
    };
    this.records.delete(name);
    this.records.set(name, { record, expiresAt: now + claim.ttlMs });
    // Oldest first: a Map iterates in insertion order.
    for (const [old, held] of this.records) {
      if (this.records.size <= MAX_MEMORY_IDEMPOTENCY_RECORDS && held.expiresAt > now) break;
      this.records.delete(old);
    }
  }

  async readTypesAfter(ref: StreamRef, since: string, limit: number): Promise<ReadTypesResult> {
    const page = await this.readAfter(ref, since, limit);
    if (!page.held) return page;
    const { lastId, hasMore } = page;
    return {
      held: true,
      lastId,
      hasMore,
      entries: page.events.map(({ id, type }) => ({ id, type })),
    };
  }

  readAfter(ref: StreamRef, since: string, limit: number): Promise<ReadAfterResult> {
    const stream = this.stream(streamKey(ref), false);
    if (!stream) return Promise.resolve(since === ZERO_ID ? emptyHeld() : { held: false });
    const held =
      compareStreamIds(since, stream.lastId) <= 0 &&
      compareStreamIds(since, stream.maxDeletedId) >= 0 &&
      (since === ZERO_ID ||
        since === stream.maxDeletedId ||
        stream.entries.some((e) => e.id === since));
    if (!held) return Promise.resolve({ held: false, heldAfter: stream.maxDeletedId });
    const after = stream.entries.filter((e) => compareStreamIds(e.id, since) > 0);
    return Promise.resolve({
      held: true,
      events: after.slice(0, limit),
      lastId: stream.lastId,
      hasMore: after.length > limit,
    });
  }

  readLatest(ref: StreamRef, limit: number): Promise<LatestResult> {
    const stream = this.stream(streamKey(ref), false);
    if (!stream) return Promise.resolve({ events: [], lastId: ZERO_ID, hasMore: false });
    const start = Math.max(0, stream.entries.length - limit);
    return Promise.resolve({
      events: stream.entries.slice(start),
      lastId: stream.lastId,
      hasMore: start > 0 || compareStreamIds(stream.maxDeletedId, ZERO_ID) > 0,
    });
  }

  snapshot(projectId: string): Promise<Snapshot> {
    const state = this.state(projectId);
    this.pruneEnded(state, this.now());
    const stream = this.stream(streamKey({ projectId }), false);
    return Promise.resolve({
      position: stream?.lastId ?? ZERO_ID,
      snapshot: Object.fromEntries(state.latest),
    });
  }

  private stream(key: string, create: boolean): Stream | undefined {
    let stream = this.streams.get(key);
    if (stream?.expiresAt !== undefined && stream.expiresAt <= this.now()) {
      this.streams.delete(key);
      stream = undefined;
    }
    if (!stream && create) {
      stream = { entries: [], lastId: ZERO_ID, maxDeletedId: ZERO_ID };
      this.streams.set(key, stream);
    }
    return stream;
  }

  private state(projectId: string): ProjectState {
    let state = this.states.get(projectId);
    if (!state) {
      state = { latest: new Map(), ended: new Map(), open: new Map() };
      this.states.set(projectId, state);
    }
    return state;
  }

  private pruneEnded(state: ProjectState, now: number): void {
    const cutoff = now - this.limits.endedTtlSeconds * 1000;
    for (const [key, endedAt] of state.ended) {
      if (endedAt <= cutoff) {
        state.ended.delete(key);
        state.latest.delete(key);
      }
    }
  }

  /** Redis's rule: `<ms>-<seq>`, never going backwards even if the clock does. */
  private nextId(lastId: string, now: number): string {
    const [lastMs, lastSeq] = lastId.split('-').map(Number);
    return now > lastMs ? `${now}-0` : `${lastMs}-${lastSeq + 1}`;
  }
}

/** `work`'s result, or its refusal, as a promise: the store acts at once, as the call happens. */
function settle<T>(work: () => T): Promise<T> {
  try {
    return Promise.resolve(work());
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}

function emptyHeld(): ReadAfterResult {
  return { held: true, events: [], lastId: ZERO_ID, hasMore: false };
}
