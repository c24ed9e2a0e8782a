import { GatewayError } from '../../common/errors.js';
import type { EventEnvelope, PendingEvent, Snapshot } from '../../events/envelope.js';
import type { RedisKeys } from '../../redis/keys.js';
import type { RedisCommandClient } from '../../redis/lua-script.js';
import { withRedis } from '../../redis/redis-errors.js';
import { APPEND_SCRIPT, READ_AFTER_SCRIPT, SNAPSHOT_SCRIPT } from '../../redis/scripts.js';
import type {
  EventHistory,
  HistoryLimits,
  LatestResult,
  ReadAfterResult,
  ReadTypesResult,
  StreamRef,
} from '../event-history.port.js';

export interface RedisHistoryOptions {
  keys: RedisKeys;
  limits: HistoryLimits;
}

/** History in Redis Streams; `append` is one Lua script (append + state + publish). */
export class RedisEventHistory implements EventHistory {
  constructor(
    private readonly client: RedisCommandClient,
    private readonly options: RedisHistoryOptions,
  ) {}

  async append(events: PendingEvent[]): Promise<EventEnvelope[]> {
    const projectId = events[0]?.projectId;
    if (projectId === undefined || events.some((e) => e.projectId !== projectId)) {
      throw new GatewayError('INVALID_PAYLOAD', 'one append takes events of exactly one project');
    }
    const { keys, limits } = this.options;
    const redisKeys = [keys.events(projectId), keys.state(projectId), keys.ended(projectId)];
    const logIndex = new Map<string, number>();
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
      if (event.runId !== null) {
        keyIndex = logIndex.get(event.runId) ?? 0;
        if (keyIndex === 0) {
          redisKeys.push(keys.logs(projectId, event.runId));
          keyIndex = redisKeys.length;
          logIndex.set(event.runId, keyIndex);
        }
      }
      const body = JSON.stringify({
        type: event.type,
        projectId,
        occurredAt: event.occurredAt,
        source: event.source,
        data: event.data,
      });
      args.push(keyIndex, body, event.entityKey ?? '', event.ends ? '1' : '0');
    }
    const ids = (await withRedis(() =>
      APPEND_SCRIPT.run(this.client, redisKeys, args),
    )) as string[];
    return events.map((event, i) => ({
      id: ids[i],
      type: event.type,
      projectId,
      occurredAt: event.occurredAt,
      source: event.source,
      data: event.data,
    }));
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
    return { events, lastId: events.at(-1)?.id ?? '0-0', hasMore };
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
