import { ZERO_ID } from '../../core/ids.js';
import { GatewayError, UnavailableError } from '../../core/errors.js';
import type { EventEnvelope, PendingEvent, Snapshot } from '../../core/envelope.js';
import type { RedisKeys } from './keys.js';
import type { RedisCommandClient } from './lua-script.js';
import { withRedis } from './redis-errors.js';
import {
  APPEND_SCRIPT,
  ENTITIES_SCRIPT,
  OPEN_SCRIPT,
  READ_AFTER_SCRIPT,
  SNAPSHOT_SCRIPT,
} from './scripts.js';
import type { IdempotencyClaim, IdempotencyRecord } from '../../core/idempotency.js';
import {
  type AppendOnceResult,
  conflictWith,
  type EventStore,
  type Expectation,
  HistoryLimits,
  LatestResult,
  LiveHandler,
  LiveState,
  LiveSubscription,
  ReadAfterResult,
  ReadTypesResult,
  StreamRef,
} from '../../core/event-store.port.js';
import { LiveChannels } from '../../core/live-channels.js';
import type { CircuitBreaker } from '../../core/support/circuit-breaker.js';

export interface RedisStoreOptions {
  keys: RedisKeys;
  limits: HistoryLimits;
  /** Called when a live message cannot be parsed, or a resubscribe fails. */
  onError?: (context: string, error: unknown) => void;
  /** Called when a live handler throws; the others still get the batch. */
  onHandlerError?: (error: unknown, events: readonly EventEnvelope[]) => void;
  /**
   * Appends fail fast: at once while the connection is known to be down
   * (`writable`, the heartbeat), and through the circuit breaker after
   * repeated failures, so publishers get 503 in microseconds instead of each
   * waiting out a command timeout. Reads and live delivery are not guarded;
   * they serve viewers who can retry on their own.
   */
  guard?: { breaker: CircuitBreaker; writable: () => boolean };
}

/**
 * The store in Redis: history in Redis Streams, the latest state per entity in
 * a hash, and live batches on a shard channel per project. `append` is one Lua
 * script doing all three. Each replica SSUBSCRIBEs to a project's channel only
 * while it has local subscribers of it, on its own subscriber connection.
 */
export class RedisEventStore implements EventStore {
  private readonly live: LiveChannels;

  constructor(
    private readonly client: RedisCommandClient,
    private readonly subscriber: RedisCommandClient,
    private readonly options: RedisStoreOptions,
  ) {
    this.live = new LiveChannels(
      { listen: (id) => this.listen(id), unlisten: (id) => this.unlisten(id) },
      options.onHandlerError,
    );
    subscriber.on('smessage', (channel: string, message: string) =>
      this.onMessage(channel, message),
    );
    // The store is built on a connected subscriber, so every later `ready` is
    // a reconnect. ioredis re-subscribes as it reconnects, so live messages
    // may arrive before `ready`: listeners hold them from the moment of the drop.
    subscriber.on('close', () => this.live.liveState('interrupted'));
    subscriber.on('ready', () => void this.resubscribe());
  }

  subscribe(projectId: string, pattern: string, handler: LiveHandler): Promise<LiveSubscription> {
    return this.live.subscribe(projectId, pattern, handler);
  }

  unsubscribe(subscription: LiveSubscription): Promise<void> {
    return this.live.unsubscribe(subscription);
  }

  listeningProjects(): string[] {
    return this.live.listeningProjects();
  }

  onLiveStateChange(listener: (state: LiveState) => void): void {
    this.live.onLiveStateChange(listener);
  }

  async append(
    events: PendingEvent[],
    expectations: readonly Expectation[] = [],
  ): Promise<EventEnvelope[]> {
    const result = await this.guarded(() => this.appendNow(events, expectations, null));
    // Without a claim the script never answers a replay.
    return result.replayed ? [] : result.events;
  }

  appendOnce(
    events: PendingEvent[],
    claim: IdempotencyClaim,
    expectations: readonly Expectation[] = [],
  ): Promise<AppendOnceResult> {
    return this.guarded(() => this.appendNow(events, expectations, claim));
  }

  async readIdempotency(projectId: string, key: string): Promise<IdempotencyRecord | null> {
    const text = await withRedis(() =>
      this.client.get(this.options.keys.idempotency(projectId, key)),
    );
    return text === null ? null : (JSON.parse(text) as IdempotencyRecord);
  }

  async readEntities(
    projectId: string,
    entityKeys: readonly string[],
  ): Promise<(EventEnvelope | null)[]> {
    if (entityKeys.length === 0) return [];
    const { keys, limits } = this.options;
    const reply = (await withRedis(() =>
      ENTITIES_SCRIPT.run(
        this.client,
        [keys.state(projectId), keys.ended(projectId)],
        [limits.endedTtlSeconds * 1000, ...entityKeys],
      ),
    )) as string[];
    return reply.map((text) => (text ? (JSON.parse(text) as EventEnvelope) : null));
  }

  async readOpen(projectId: string, owner: string): Promise<EventEnvelope[]> {
    const { keys } = this.options;
    const reply = (await withRedis(() =>
      OPEN_SCRIPT.run(this.client, [keys.open(projectId, owner), keys.state(projectId)], []),
    )) as string[];
    return reply.map((text) => JSON.parse(text) as EventEnvelope);
  }

  /** Writes go through the guard (heartbeat, circuit breaker) when there is one. */
  private guarded<T>(write: () => Promise<T>): Promise<T> {
    const { guard } = this.options;
    if (!guard) return write();
    if (!guard.writable())
      return Promise.reject(new UnavailableError('the event store is unreachable, retry shortly'));
    return guard.breaker.run(write);
  }

  private async appendNow(
    events: PendingEvent[],
    expectations: readonly Expectation[],
    claim: IdempotencyClaim | null,
  ): Promise<AppendOnceResult> {
    const projectId = events[0]?.projectId;
    if (projectId === undefined || events.some((e) => e.projectId !== projectId)) {
      throw new GatewayError('INVALID_PAYLOAD', 'one append takes events of exactly one project');
    }
    const { keys, limits } = this.options;
    const redisKeys = [keys.events(projectId), keys.state(projectId), keys.ended(projectId)];
    const logIndex = new Map<string, number>();
    const ownerIndex = new Map<string, number>();
    /** The index (1-based) of `key` in KEYS, added once. */
    const keyOf = (seen: Map<string, number>, name: string, key: string) => {
      let index = seen.get(name) ?? 0;
      if (index === 0) {
        redisKeys.push(key);
        index = redisKeys.length;
        seen.set(name, index);
      }
      return index;
    };
    const args: (string | number)[] = [
      keys.live(projectId),
      limits.maxEvents,
      limits.maxLogLines,
      limits.logTtlSeconds,
      limits.endedTtlSeconds * 1000,
      events.length,
    ];
    for (const event of events) {
      let keyIndex = 1;
      if (event.runId !== null)
        keyIndex = keyOf(logIndex, event.runId, keys.logs(projectId, event.runId));
      const body = JSON.stringify({
        type: event.type,
        projectId,
        occurredAt: event.occurredAt,
        source: event.source,
        data: event.data,
      });
      const ownerKey =
        event.owner && event.entityKey
          ? keyOf(ownerIndex, event.owner, keys.open(projectId, event.owner))
          : 0;
      args.push(keyIndex, body, event.entityKey ?? '', event.ends ? '1' : '0', ownerKey);
    }
    args.push(expectations.length);
    for (const { entityKey, version } of expectations) args.push(entityKey, version ?? '');
    if (claim) {
      redisKeys.push(keys.idempotency(projectId, claim.key));
      // The answer goes in as a JSON string, so the record parses back to the same text.
      args.push(redisKeys.length, claim.fingerprint, JSON.stringify(claim.answer), claim.ttlMs);
    }
    const reply = (await withRedis(() =>
      APPEND_SCRIPT.run(this.client, redisKeys, args),
    )) as string[];
    if (reply[0] === 'REPLAY') {
      return { replayed: true, record: JSON.parse(reply[1]) as IdempotencyRecord };
    }
    if (reply[0] === 'CONFLICT') {
      const current = reply[2] ? (JSON.parse(reply[2]) as EventEnvelope) : null;
      throw conflictWith(reply[1], current);
    }
    const ids = reply;
    return {
      replayed: false,
      events: events.map((event, i) => ({
        id: ids[i],
        type: event.type,
        projectId,
        occurredAt: event.occurredAt,
        source: event.source,
        data: event.data,
      })),
    };
  }

  async readAfter(ref: StreamRef, since: string, limit: number): Promise<ReadAfterResult> {
    const reply = (await withRedis(() =>
      READ_AFTER_SCRIPT.run(this.client, [this.streamKey(ref)], [since, limit]),
    )) as (string | number)[];
    if (reply[0] !== 1) return notHeld(reply);
    const events: EventEnvelope[] = [];
    for (let i = 3; i < reply.length; i += 2) {
      events.push(withId(String(reply[i]), String(reply[i + 1])));
    }
    return { held: true, lastId: String(reply[1]), hasMore: reply[2] === 1, events };
  }

  async readTypesAfter(ref: StreamRef, since: string, limit: number): Promise<ReadTypesResult> {
    const reply = (await withRedis(() =>
      READ_AFTER_SCRIPT.run(this.client, [this.streamKey(ref)], [since, limit, 'types']),
    )) as (string | number)[];
    if (reply[0] !== 1) return notHeld(reply);
    const entries: { id: string; type: string }[] = [];
    for (let i = 3; i < reply.length; i += 2) {
      entries.push({ id: String(reply[i]), type: String(reply[i + 1]) });
    }
    return { held: true, lastId: String(reply[1]), hasMore: reply[2] === 1, entries };
  }

  async readLatest(ref: StreamRef, limit: number): Promise<LatestResult> {
    const entries = await withRedis(() =>
      this.client.xrevrange(this.streamKey(ref), '+', '-', 'COUNT', limit + 1),
    );
    const hasMore = entries.length > limit;
    const events = entries
      .slice(0, limit)
      .reverse()
      .map(([id, fields]) => withId(id, fields[1]));
    return { events, lastId: events.at(-1)?.id ?? ZERO_ID, hasMore };
  }

  async snapshot(projectId: string): Promise<Snapshot> {
    const { keys, limits } = this.options;
    const [position, flat] = (await withRedis(() =>
      SNAPSHOT_SCRIPT.run(
        this.client,
        [keys.events(projectId), keys.state(projectId), keys.ended(projectId)],
        [limits.endedTtlSeconds * 1000],
      ),
    )) as [string, string[]];
    const entries: [string, EventEnvelope][] = [];
    for (let i = 0; i < flat.length; i += 2) {
      entries.push([flat[i], JSON.parse(flat[i + 1]) as EventEnvelope]);
    }
    // fromEntries defines own properties, whatever a key is called.
    const snapshot = Object.fromEntries(entries);
    return { position, snapshot };
  }

  private async listen(projectId: string): Promise<void> {
    // Fail fast while disconnected: a subscribe queued behind an outage would hang its viewer.
    if (this.subscriber.status !== 'ready') throw new UnavailableError('live channel unavailable');
    await withRedis(() => this.subscriber.ssubscribe(this.options.keys.live(projectId)));
  }

  private async unlisten(projectId: string): Promise<void> {
    const channel = this.options.keys.live(projectId);
    // An unsubscribe that fails leaves a harmless extra subscription; never throw for it.
    await withRedis(() => this.subscriber.sunsubscribe(channel)).catch(() => undefined);
  }

  /**
   * ioredis re-subscribes by itself on reconnect, but without telling us when
   * that is done; subscribing again (idempotent) and awaiting the replies
   * gives the moment from which every live message reaches us, so the gap can
   * be read from history without missing anything.
   */
  private async resubscribe(): Promise<void> {
    try {
      for (const projectId of this.live.listeningProjects()) {
        await this.subscriber.ssubscribe(this.options.keys.live(projectId));
      }
    } catch (err) {
      // Dropped again: the next `ready` retries.
      this.options.onError?.('resubscribe', err);
      return;
    }
    this.live.liveState('restored');
  }

  /**
   * A live message is the stored envelopes joined by the append script into a
   * JSON array, which is what `JSON.stringify` of the parsed array gives back
   * (the behaviour suite checks it): the batch keeps it as its text.
   */
  private onMessage(channel: string, message: string): void {
    const projectId = this.options.keys.projectOfLiveChannel(channel);
    if (projectId === null) return;
    let events: EventEnvelope[];
    try {
      events = JSON.parse(message) as EventEnvelope[];
    } catch (err) {
      this.options.onError?.(`message on ${channel}`, err);
      return;
    }
    this.live.deliver(projectId, { events, text: message });
  }

  private streamKey(ref: StreamRef): string {
    const { keys } = this.options;
    return ref.runId === undefined
      ? keys.events(ref.projectId)
      : keys.logs(ref.projectId, ref.runId);
  }
}

function notHeld(reply: (string | number)[]): { held: false; heldAfter?: string } {
  return reply[1] === undefined ? { held: false } : { held: false, heldAfter: String(reply[1]) };
}

/** Stored entries are envelopes without their id (the id is the entry's). */
function withId(id: string, body: string): EventEnvelope {
  return { id, ...(JSON.parse(body) as Omit<EventEnvelope, 'id'>) };
}
