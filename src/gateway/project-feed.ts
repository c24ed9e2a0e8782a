import { compareStreamIds } from '../common/ids.js';
import type { EventEnvelope } from '../events/envelope.js';
import type { BusSubscription } from '../events/event-bus.port.js';
import { TypeFilter } from '../events/pattern.js';

/** Where a feed writes: one encoded frame per room (per filter group), local sockets only. */
export interface RoomEmitter {
  emitToRoom(room: string, events: EventEnvelope[]): void;
  roomSize(room: string): number;
}

/** Metrics hooks: per group written, and once per batch. */
export interface FeedObserver {
  /** `events` were written to `members` viewers. */
  delivered(events: EventEnvelope[], members: number): void;
  /** A batch left this replica (once, whatever the number of groups). */
  emitted(events: EventEnvelope[]): void;
}

/**
 * A viewer's live events while it catches up from history, kept until it
 * joins its room. Once armed, it goes live as soon as the feed has received an
 * event at or past `threshold` (the stream position its history or snapshot
 * was read at): only then can no earlier event still be in flight to us.
 */
export interface CatchUpBuffer {
  events: EventEnvelope[];
  armed?: {
    filter: TypeFilter;
    deliveredUpTo: string;
    threshold: string;
    send: (events: EventEnvelope[]) => void;
    join: (room: string) => void;
  };
}

interface FilterGroup {
  filter: TypeFilter;
  room: string;
  members: number;
}

/** Log lines go to run viewers only (logs:subscribe), never in a project's stream. */
const LOG_TYPE = 'agent.run.log';

/**
 * One project's live events on this replica. Viewers with the same `types`
 * share a Socket.IO room, so each batch is filtered and encoded once per group
 * and written to every member. Events arriving within the batch window go out
 * as one `events` frame.
 */
export class ProjectFeed {
  busSubscription: BusSubscription | null = null;
  readonly ready: Promise<void>;
  private readonly groups = new Map<string, FilterGroup>();
  private readonly catchingUp = new Set<CatchUpBuffer>();
  private pending: EventEnvelope[] = [];
  /** Highest id received on the live channel. */
  private lastReceivedId = '0-0';
  private timer: NodeJS.Timeout | null = null;
  /** Viewers of the project on this replica, live or catching up. */
  viewers = 0;

  constructor(
    readonly projectId: string,
    private readonly emitter: RoomEmitter,
    private readonly batchWindowMs: number,
    subscribe: (feed: ProjectFeed) => Promise<BusSubscription>,
    private readonly observer: FeedObserver,
  ) {
    this.ready = subscribe(this).then((s) => {
      this.busSubscription = s;
    });
  }

  /** Bus handler: every live event of the project, in id order. */
  receive(event: EventEnvelope): void {
    if (event.type === LOG_TYPE) return;
    this.lastReceivedId = event.id;
    this.pending.push(event);
    for (const buffer of this.catchingUp) {
      buffer.events.push(event);
      if (buffer.armed && compareStreamIds(event.id, buffer.armed.threshold) >= 0) {
        buffer.armed.join(this.goLive(buffer));
      }
    }
    if (this.timer) return;
    this.timer = setTimeout(() => this.flush(), this.batchWindowMs);
  }

  /** Starts buffering live events for a viewer that is reading history. */
  startCatchUp(): CatchUpBuffer {
    const buffer: CatchUpBuffer = { events: [] };
    this.catchingUp.add(buffer);
    return buffer;
  }

  stopCatchUp(buffer: CatchUpBuffer): void {
    this.catchingUp.delete(buffer);
  }

  /**
   * A viewer's history is read: returns what to send it right after its ack
   * (history after `position`, then buffered live events after that, filtered)
   * and, if the feed has already received the event at `threshold`, the room
   * to join once those are sent. Otherwise `room` is null: the viewer keeps
   * buffering, and the feed sends what arrives and calls `join` when that event
   * comes, so an event published before the read but received after it is
   * never sent twice.
   */
  catchUp(
    buffer: CatchUpBuffer,
    filter: TypeFilter,
    history: EventEnvelope[],
    position: string,
    threshold: string,
    send: (events: EventEnvelope[]) => void,
    join: (room: string) => void,
  ): { events: EventEnvelope[]; room: string | null } {
    const { events, last } = after([...history, ...buffer.events], position, filter);
    buffer.events = [];
    buffer.armed = { filter, deliveredUpTo: last, threshold, send, join };
    const room = compareStreamIds(this.lastReceivedId, threshold) >= 0 ? this.goLive(buffer) : null;
    return { events, room };
  }

  /**
   * Moves an armed viewer to its room: whatever it buffered since its catch-up
   * goes out first, pending events go to the current members (this viewer has
   * them already), then it counts as a member. Returns the room to join.
   */
  private goLive(buffer: CatchUpBuffer): string {
    const armed = buffer.armed!;
    this.catchingUp.delete(buffer);
    const { events } = after(buffer.events, armed.deliveredUpTo, armed.filter);
    if (events.length > 0) armed.send(events);
    this.flush();
    const group = this.group(armed.filter);
    group.members++;
    return group.room;
  }

  /** A live viewer leaves its group (the socket leaves the room itself). */
  leave(filterKey: string): void {
    const group = this.groups.get(filterKey);
    if (!group) return;
    group.members--;
    if (group.members <= 0) this.groups.delete(filterKey);
  }

  private roomFor(filter: TypeFilter): string {
    return filter.matchesAll
      ? `project:${this.projectId}`
      : `project:${this.projectId}|${filter.key}`;
  }

  flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    for (const group of this.groups.values()) {
      const events = group.filter.matchesAll
        ? batch
        : batch.filter((e) => group.filter.matches(e.type));
      if (events.length === 0) continue;
      this.emitter.emitToRoom(group.room, events);
      this.observer.delivered(events, this.emitter.roomSize(group.room));
    }
    this.observer.emitted(batch);
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.pending = [];
    this.catchingUp.clear();
    this.groups.clear();
  }

  private group(filter: TypeFilter): FilterGroup {
    let group = this.groups.get(filter.key);
    if (!group) {
      group = { filter, room: this.roomFor(filter), members: 0 };
      this.groups.set(filter.key, group);
    }
    return group;
  }
}

/** The events after `from` (id order, each once), those `filter` accepts, and the last id seen. */
function after(
  events: EventEnvelope[],
  from: string,
  filter: TypeFilter,
): { events: EventEnvelope[]; last: string } {
  let last = from;
  const out: EventEnvelope[] = [];
  for (const event of events) {
    if (compareStreamIds(event.id, last) <= 0) continue;
    last = event.id;
    if (event.type !== LOG_TYPE && filter.matches(event.type)) out.push(event);
  }
  return { events: out, last };
}
