import { compareStreamIds } from '../common/ids.js';
import type { EventEnvelope } from '../events/envelope.js';
import type { BusSubscription } from '../events/event-bus.port.js';
import { TypeFilter } from '../events/pattern.js';

/** Where a feed writes: one encoded frame per room (per filter group), local sockets only. */
export interface RoomEmitter {
  emitToRoom(room: string, events: EventEnvelope[]): void;
  roomSize(room: string): number;
}

/** A viewer's live events while it catches up from history, kept until it joins its room. */
export interface CatchUpBuffer {
  events: EventEnvelope[];
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
  private timer: NodeJS.Timeout | null = null;
  /** Viewers of the project on this replica, live or catching up. */
  viewers = 0;

  constructor(
    readonly projectId: string,
    private readonly emitter: RoomEmitter,
    private readonly batchWindowMs: number,
    subscribe: (feed: ProjectFeed) => Promise<BusSubscription>,
    private readonly onFlushed: (group: { room: string; members: number }, events: EventEnvelope[]) => void,
  ) {
    this.ready = subscribe(this).then((s) => {
      this.busSubscription = s;
    });
  }

  /** Bus handler: every live event of the project, in id order. */
  receive(event: EventEnvelope): void {
    if (event.type === LOG_TYPE) return;
    this.pending.push(event);
    for (const buffer of this.catchingUp) buffer.events.push(event);
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
   * Hands a caught-up viewer over to live delivery. Pending events are flushed
   * to the rooms first (the viewer is not a member yet), then the viewer gets
   * everything after `deliveredUpTo` from history and its buffer, then joins.
   * All synchronous: no live event can slip in between.
   */
  goLive(
    buffer: CatchUpBuffer,
    filter: TypeFilter,
    history: EventEnvelope[],
    deliveredUpTo: string,
    send: (events: EventEnvelope[]) => void,
    join: (room: string) => void,
  ): { room: string; sent: number } {
    this.flush();
    this.catchingUp.delete(buffer);
    let last = deliveredUpTo;
    const out: EventEnvelope[] = [];
    for (const event of [...history, ...buffer.events]) {
      if (compareStreamIds(event.id, last) <= 0) continue;
      last = event.id;
      if (event.type !== LOG_TYPE && filter.matches(event.type)) out.push(event);
    }
    for (let i = 0; i < out.length; i += 500) send(out.slice(i, i + 500));
    const group = this.group(filter);
    group.members++;
    join(group.room);
    return { room: group.room, sent: out.length };
  }

  /** A live viewer leaves its group (the socket leaves the room itself). */
  leave(filterKey: string): void {
    const group = this.groups.get(filterKey);
    if (!group) return;
    group.members--;
    if (group.members <= 0) this.groups.delete(filterKey);
  }

  roomFor(filter: TypeFilter): string {
    return filter.matchesAll ? `project:${this.projectId}` : `project:${this.projectId}|${filter.key}`;
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
      const events = group.filter.matchesAll ? batch : batch.filter((e) => group.filter.matches(e.type));
      if (events.length === 0) continue;
      this.emitter.emitToRoom(group.room, events);
      this.onFlushed({ room: group.room, members: this.emitter.roomSize(group.room) }, events);
    }
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
