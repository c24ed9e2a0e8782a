import { GatewayError } from '../core/errors.js';
import type { EventEnvelope } from '../core/envelope.js';
import type { EventStore, StreamRef } from '../core/event-store.port.js';
import { compareStreamIds } from '../core/ids.js';
import type { TypeFilter } from '../core/pattern.js';
import { ByteBudget } from '../core/support/byte-budget.js';
import { Semaphore } from '../core/support/semaphore.js';
import { jsonBytes } from './slow-queue.js';
import type { Viewer } from './viewer.js';

/**
 * What one history read of a replay may make Redis go through, bytes: the
 * read runs as one script, and Redis serves nobody else meanwhile (heartbeats
 * included), so a replay reads many short pages rather than a few long ones.
 */
const REPLAY_PAGE_BYTES = 512 * 1024;
/** Events a replay's first page reads, before it knows how large they are. */
const FIRST_PAGE = 100;
/** Most events in one page, however small they are. */
const MAX_PAGE = 1000;

/** Events per page for events of `bytesPerEvent` (learnt from the pages read so far). */
function pageSize(bytesPerEvent: number): number {
  if (bytesPerEvent <= 0) return FIRST_PAGE;
  return Math.max(1, Math.min(MAX_PAGE, Math.floor(REPLAY_PAGE_BYTES / bytesPerEvent)));
}
/** Largest `events` frame a paced replay writes, bytes (a frame may hold one larger event). */
const REPLAY_FRAME_BYTES = 64 * 1024;
/** How often a paced replay looks whether its viewer's connection has drained, ms. */
const DRAIN_CHECK_MS = 50;
/** Folds a page's event sizes into the replay's running average. */
function learnSizes(replay: Replay, sizes: readonly number[]): void {
  if (sizes.length === 0) return;
  let bytes = 0;
  for (const size of sizes) bytes += size;
  const average = bytes / sizes.length;
  replay.bytesPerEvent =
    replay.bytesPerEvent === 0 ? average : (replay.bytesPerEvent + average) / 2;
}

/** A viewer's connection stayed backed up past the stall timeout while a replay waited. */
export class StalledViewer extends Error {}

/**
 * A replay read for one viewer: the events after `since` it is sent (those its
 * filter accepts), held in memory up to the viewer's hard limit; past that
 * only counted, and streamed page by page from `restAfter` once the ack is out.
 */
export interface Replay {
  held: EventEnvelope[];
  heldBytes: number;
  /** Events the viewer gets in all (held and streamed). */
  count: number;
  /** Events after this id were counted but not held; null when all are held. */
  restAfter: string | null;
  /** The stream's last id when read. */
  lastId: string;
  /** Average encoded size of the events read so far, bytes (sizes the pages). */
  bytesPerEvent: number;
}

export interface ReplayLimits {
  /** What one viewer may be owed at once, bytes (VIEWER_HARD_LIMIT_BYTES). */
  hardLimitBytes: number;
  /** A viewer backed up past this is not written more (VIEWER_SOFT_LIMIT_BYTES). */
  softLimitBytes: number;
  /** How long a replay waits for a backed-up viewer, ms (REPLAY_STALL_TIMEOUT_MS). */
  stallTimeoutMs: number;
  /** History reads of replays at once on this replica (REPLAY_CONCURRENT_READS). */
  concurrentReads: number;
  /** Replayed bytes held at once on this replica, across viewers (REPLAY_MAX_BYTES). */
  maxBytes: number;
}

/** What a paced replay needs to know of its subscription. */
export interface ReplayTarget {
  /** Events up to this id are the replay's; later ones come live. */
  threshold: string;
  filter: TypeFilter;
  /** False once the subscription was replaced, cancelled or its connection closed. */
  alive: () => boolean;
  /** The last id written to the viewer. */
  delivered: (id: string) => void;
  /** False once the stream was resynced under the replay (what it read is stale). */
  current: () => boolean;
}

export function cancelled(): GatewayError {
  return new GatewayError('UNAVAILABLE', 'subscription was replaced or cancelled while starting');
}

/**
 * Replays after `since` on this replica, bounded whatever their viewers do:
 * what is held in memory is capped per viewer (its hard limit) and for the
 * replica (a byte budget), the rest only counted and then read page by page
 * as it is sent; history reads run a few at a time, in pages sized by bytes;
 * writes wait for the connection to drain, and a connection that stays
 * backed up past the stall timeout ends its replay.
 */
export class Replays {
  /** History reads in flight: bounds their bytes and Redis time. */
  private readonly reads: Semaphore;
  /** Bytes of replayed history held, across all viewers. */
  private readonly budget: ByteBudget;
  /** Since when a connection has been backed up while a replay to it waits (any of its replays). */
  private readonly stalledSince = new WeakMap<Viewer, number>();

  constructor(
    private readonly store: EventStore,
    private readonly limits: ReplayLimits,
  ) {
    this.reads = new Semaphore(limits.concurrentReads);
    this.budget = new ByteBudget(limits.maxBytes);
  }

  /** Replayed bytes held right now (metrics). */
  get bytesHeld(): number {
    return this.budget.inUse;
  }

  /**
   * Reads a replay after `since`: holds the events `filter` accepts up to the
   * viewer's hard limit in bytes, and counts (without holding) the rest, so
   * the ack can say how many follow. Pages are read under the replica's
   * replay read bound; a cancelled subscribe stops reading. Null when
   * something after `since` is no longer held.
   */
  async read(
    stream: StreamRef,
    since: string,
    filter: TypeFilter,
    alive: () => boolean,
  ): Promise<Replay | null> {
    const replay: Replay = {
      held: [],
      heldBytes: 0,
      count: 0,
      restAfter: null,
      lastId: since,
      bytesPerEvent: 0,
    };
    try {
      const read = await this.readReplayInto(replay, stream, since, filter, alive);
      if (!read) this.release(replay);
      return read;
    } catch (err) {
      this.release(replay);
      throw err;
    }
  }

  /** Gives a replay's held bytes back to the replica's budget (once they are sent, or not needed). */
  release(replay: Replay): void {
    this.budget.release(replay.heldBytes);
    replay.heldBytes = 0;
    replay.held = [];
  }

  private async readReplayInto(
    replay: Replay,
    stream: StreamRef,
    since: string,
    filter: TypeFilter,
    alive: () => boolean,
  ): Promise<Replay | null> {
    const limit = this.limits.hardLimitBytes;
    let cursor = since;
    for (;;) {
      if (!alive()) throw cancelled();
      const size = pageSize(replay.bytesPerEvent);
      const page = await this.reads.run(() => this.store.readAfter(stream, cursor, size));
      if (!page.held) return null;
      replay.lastId = page.lastId;
      const sizes = page.events.map(jsonBytes);
      learnSizes(replay, sizes);
      for (const [i, event] of page.events.entries()) {
        if (!filter.matches(event.type)) continue;
        const bytes = sizes[i];
        // Held while it fits the viewer's hard limit and the replica's budget.
        if (replay.heldBytes + bytes > limit || !this.budget.take(bytes)) {
          replay.restAfter = replay.held.at(-1)?.id ?? since;
          break;
        }
        replay.count++;
        replay.held.push(event);
        replay.heldBytes += bytes;
      }
      if (replay.restAfter !== null) break;
      if (!page.hasMore || page.events.length === 0) return replay;
      cursor = page.events[page.events.length - 1].id;
    }
    // The rest is only counted (ids and types, not bodies), up to where the read ends.
    cursor = replay.restAfter;
    for (;;) {
      if (!alive()) throw cancelled();
      const after = cursor;
      // Redis still goes through whole entries to find their types: pages sized by bytes.
      const size = pageSize(replay.bytesPerEvent);
      const page = await this.reads.run(() => this.store.readTypesAfter(stream, after, size));
      if (!page.held) return null;
      replay.lastId = page.lastId;
      for (const { type } of page.entries) if (filter.matches(type)) replay.count++;
      if (!page.hasMore || page.entries.length === 0) return replay;
      cursor = page.entries[page.entries.length - 1].id;
    }
  }

  /**
   * Sends a replay too large to write at once: frames of at most
   * REPLAY_FRAME_BYTES, each written only once the connection has drained
   * below the soft limit, and the part not held read page by page as it goes.
   * `sent` when all of it up to the threshold is written; `lost` when history
   * under it was trimmed or resynced; `cancelled` when the subscription ended.
   * Throws `StalledViewer` for a connection backed up too long.
   */
  async send(
    socket: Viewer,
    stream: StreamRef,
    replay: Replay,
    target: ReplayTarget,
  ): Promise<'sent' | 'lost' | 'cancelled'> {
    const { filter, alive, threshold } = target;
    /**
     * Writes `events` (of encoded `sizes`) in frames of about REPLAY_FRAME_BYTES,
     * each once the connection has drained.
     */
    const write = async (events: EventEnvelope[], sizes = events.map(jsonBytes)) => {
      for (let start = 0; start < events.length;) {
        let end = start;
        for (let bytes = 0; end < events.length && bytes < REPLAY_FRAME_BYTES; end++) {
          bytes += sizes[end];
        }
        if (!(await this.drained(socket, alive))) return false;
        socket.send(events.slice(start, end));
        target.delivered(events[end - 1].id);
        start = end;
      }
      return true;
    };
    try {
      if (!(await write(replay.held))) return 'cancelled';
    } finally {
      this.release(replay);
    }
    let cursor = replay.restAfter;
    while (cursor !== null && compareStreamIds(cursor, threshold) < 0) {
      if (!(await this.drained(socket, alive))) return 'cancelled';
      const after = cursor;
      const size = pageSize(replay.bytesPerEvent);
      const page = await this.reads.run(() => this.store.readAfter(stream, after, size));
      if (!alive()) return 'cancelled';
      if (!page.held) return 'lost';
      // Each event measured once: for the page size and for the frames.
      const sizes = page.events.map(jsonBytes);
      learnSizes(replay, sizes);
      if (!target.current()) return 'lost';
      const events: EventEnvelope[] = [];
      const eventSizes: number[] = [];
      for (const [i, event] of page.events.entries()) {
        if (compareStreamIds(event.id, threshold) > 0) break;
        cursor = event.id;
        if (!filter.matches(event.type)) continue;
        events.push(event);
        eventSizes.push(sizes[i]);
      }
      if (!(await write(events, eventSizes))) return 'cancelled';
      if (!page.hasMore || page.events.length === 0 || cursor === after) break;
    }
    if (!alive()) return 'cancelled';
    return target.current() ? 'sent' : 'lost';
  }

  /**
   * Resolves true once the connection has drained below the soft limit, false
   * when the subscription was cancelled meanwhile; throws `StalledViewer`
   * when the connection stayed backed up past the stall timeout (counted
   * across the connection's replays, so resubscribing does not reset it).
   */
  private async drained(socket: Viewer, alive: () => boolean): Promise<boolean> {
    const { softLimitBytes } = this.limits;
    if (socket.bufferedBytes() <= softLimitBytes) {
      this.stalledSince.delete(socket);
      return alive();
    }
    const since = this.stalledSince.get(socket) ?? Date.now();
    this.stalledSince.set(socket, since);
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, DRAIN_CHECK_MS));
      if (!alive()) return false;
      if (socket.bufferedBytes() <= softLimitBytes) {
        this.stalledSince.delete(socket);
        return true;
      }
      if (this.stalledTooLong(socket)) throw new StalledViewer();
    }
  }

  /** Backed up now, and since longer than the stall timeout (across the connection's replays). */
  stalledTooLong(socket: Viewer): boolean {
    const since = this.stalledSince.get(socket);
    return (
      since !== undefined &&
      Date.now() - since > this.limits.stallTimeoutMs &&
      socket.bufferedBytes() > this.limits.softLimitBytes
    );
  }
}
