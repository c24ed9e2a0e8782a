import { compareStreamIds, ZERO_ID } from '../core/ids.js';
import type { EventEnvelope, Snapshot } from '../core/envelope.js';
import type { EventBatch, LiveSubscription, StreamRef } from '../core/event-store.port.js';
import type { TypeFilter } from '../core/pattern.js';
import { OutgoingBatch } from './outgoing-batch.js';
import { PendingBatch } from './pending-batch.js';
import { eventBytes, type SlowQueue } from './slow-queue.js';
import { SlowViewers } from './slow-viewers.js';
import type { Viewer } from './viewer.js';

/** Where a feed's events come from: the live channel, and history to fill gaps. */
export interface FeedSource {
  /** Starts listening live (handing each batch to `feed.receive`); resolves once live. */
  listen(feed: StreamFeed): Promise<LiveSubscription>;
  /** The stream's last id right now. */
  lastId(): Promise<string>;
  /** Every held event after `since`, or null when something after it is gone. */
  readAllAfter(since: string): Promise<EventEnvelope[] | null>;
  /** Fresh snapshot for a resync; absent for streams without one (log streams). */
  snapshot?: () => Promise<Snapshot>;
}

/** What the feed reports (metrics and logs), so it stays free of both. */
export interface FeedObserver {
  /** `events` were written to `members` viewers. */
  delivered(events: readonly EventEnvelope[], members: number): void;
  /** A batch left this replica (once, whatever the number of groups). */
  emitted(events: readonly EventEnvelope[]): void;
  backfilled(count: number): void;
  resynced(viewers: number): void;
  /** A viewer went over the soft limit (`true`) or caught up (`false`). */
  slow(viewer: Viewer, slow: boolean, detail: { bufferedBytes: number; merged: number }): void;
  merged(count: number): void;
  dropped(viewer: Viewer, count: number): void;
  /** Recovery after a live interruption failed (Redis still down); it is retried. */
  recoveryFailed(error: unknown): void;
}

export interface FeedOptions {
  /** How long live events gather before a batch is written, ms (read per batch: it adapts). */
  batchWindowMs: () => number;
  softLimitBytes: number;
  hardLimitBytes: number;
  /**
   * The feed dropped this member: its events could not be kept (`slow`: past
   * the hard limit, the connection must go) or history behind it was lost on
   * a stream without snapshots (`lost`). It should resubscribe with `since`.
   */
  onLagged: (member: FeedMember, lastDeliveredId: string, reason: 'slow' | 'lost') => void;
}

type MemberState = 'reading' | 'armed' | 'live' | 'slow' | 'closed';

/**
 * A viewer of the feed. While `reading` it reads history and buffers live
 * events; `armed` once its catch-up was sent, waiting until the feed has
 * received the event at `threshold` (the position its history was read at:
 * only then can no earlier event still be in flight to us); then `live`, getting
 * its group's batches, or `slow` (out of the group's writes, events queued)
 * while its connection is backed up.
 */
export interface FeedMember {
  readonly viewer: Viewer;
  readonly filter: TypeFilter;
  state: MemberState;
  buffer: EventEnvelope[];
  /** Bytes of `buffer`: past the hard limit the viewer is lagged, like a slow live one. */
  bufferBytes: number;
  /**
   * Stream position this viewer has been served up to (filtered events count
   * as served); while live, batches flushed since then served it too.
   */
  deliveredUpTo: string;
  threshold: string;
  group: FilterGroup | null;
  queue: SlowQueue | null;
}

/** The members with one filter: each batch is filtered and encoded once for them. */
interface FilterGroup {
  filter: TypeFilter;
  members: Set<FeedMember>;
  /** Members written each batch (live, not slow). */
  live: Set<FeedMember>;
}

/** Live events held while a gap is read; past this, the gap is resolved by a resync. */
const MAX_RECOVERY_BUFFER = 10_000;
/** Pause before retrying a recovery that failed because Redis is still down, ms. */
const RECOVERY_RETRY_MS = 1000;

/**
 * One stream's live events on this replica: a project's events, or one run's
 * log lines. Viewers with the same filter form a group, so each batch is
 * filtered once per group and encoded once per group and transport. The feed also keeps the delivery
 * promise when things go wrong: it remembers the last id it received
 * (`cursor`), so after a live interruption it reads the gap from history, or
 * resyncs its viewers when that history is gone; and it takes viewers whose
 * connections back up out of their group's writes, coalescing their events, and drops
 * them past the hard limit.
 */
export class StreamFeed {
  liveSubscription: LiveSubscription | null = null;
  readonly ready: Promise<void>;
  /** Bumped by every resync: a viewer that read history across one must read again. */
  generation = 0;
  private readonly members = new Set<FeedMember>();
  /** Members reading history or armed: they buffer every live event themselves. */
  private readonly catchingUp = new Set<FeedMember>();
  private readonly groups = new Map<string, FilterGroup>();
  private readonly pending: PendingBatch;
  /** Last id of the last batch written to the groups: what every live member has been served. */
  private flushedUpTo = ZERO_ID;
  /** Highest id received (or known to be covered); null until live. */
  private cursor: string | null = null;
  private readonly slow: SlowViewers;
  private retryTimer: NodeJS.Timeout | null = null;
  /** Live events are held (not delivered) from an interruption until its gap is filled. */
  private holding = false;
  private recovering = false;
  private recoverAgain = false;
  private recoveryBuffer: EventEnvelope[] = [];
  private recoveryOverflow = false;
  private closed = false;

  constructor(
    readonly stream: StreamRef,
    private readonly source: FeedSource,
    private readonly options: FeedOptions,
    private readonly observer: FeedObserver,
  ) {
    this.pending = new PendingBatch(options.batchWindowMs, () => this.flush());
    this.slow = new SlowViewers(options, observer, (member) => this.join(member));
    // Listen first, then read the position: every event after it reaches us live.
    this.ready = source
      .listen(this)
      .then((subscription) => {
        this.liveSubscription = subscription;
        return source.lastId();
      })
      .then((id) => {
        this.cursor = id;
      });
  }

  get size(): number {
    return this.members.size;
  }

  /** Groups of members sharing a filter (each batch is filtered and encoded once per group). */
  get groupCount(): number {
    return this.groups.size;
  }

  /** Members over the soft limit right now. */
  get slowMembers(): number {
    return this.slow.size;
  }

  /** Timers this feed holds (leak checks). */
  get timers(): number {
    return this.pending.timers + this.slow.timers + (this.retryTimer ? 1 : 0);
  }

  /** Live handler: the stream's batches, in id order. */
  receive(batch: EventBatch): void {
    if (this.closed || batch.events.length === 0) return;
    if (this.holding) {
      for (const event of batch.events) {
        if (this.recoveryBuffer.length >= MAX_RECOVERY_BUFFER) this.recoveryOverflow = true;
        else this.recoveryBuffer.push(event);
      }
      return;
    }
    const fresh = this.cursor === null || compareStreamIds(batch.events[0].id, this.cursor) > 0;
    this.pending.arriving(batch, fresh);
    for (const event of batch.events) this.ingest(event);
  }

  /** A new viewer starts reading history; live events are buffered for it meanwhile. */
  addMember(viewer: Viewer, filter: TypeFilter): FeedMember {
    const member: FeedMember = {
      viewer,
      filter,
      state: 'reading',
      buffer: [],
      bufferBytes: 0,
      deliveredUpTo: ZERO_ID,
      threshold: ZERO_ID,
      group: null,
      queue: null,
    };
    this.members.add(member);
    this.catchingUp.add(member);
    return member;
  }

  /**
   * The viewer's history is read (up to `threshold`, from `position`): returns
   * what to send it right after its ack, history then buffered live events,
   * filtered, each once. Call `activate` once those are sent.
   */
  arm(
    member: FeedMember,
    history: EventEnvelope[],
    position: string,
    threshold: string,
  ): EventEnvelope[] {
    const { events, last } = after([...history, ...member.buffer], position, member.filter);
    member.buffer = [];
    member.bufferBytes = 0;
    member.deliveredUpTo = last;
    member.threshold = threshold;
    member.state = 'armed';
    return events;
  }

  /**
   * Goes live now if the feed has received the event at the viewer's threshold;
   * otherwise the viewer stays armed, gets what arrives, and joins its group's writes
   * when that event comes, so an event published before the read but received
   * after it is never sent twice.
   */
  activate(member: FeedMember): void {
    if (member.state !== 'armed') return;
    if (this.cursor !== null && compareStreamIds(this.cursor, member.threshold) >= 0) {
      this.goLive(member);
    }
  }

  removeMember(member: FeedMember): void {
    if (!this.members.delete(member)) return;
    this.catchingUp.delete(member);
    const group = member.group;
    if (group) {
      group.live.delete(member);
      group.members.delete(member);
      if (group.members.size === 0) this.groups.delete(group.filter.key);
    }
    this.slow.leave(member);
    member.state = 'closed';
    member.buffer = [];
    member.bufferBytes = 0;
  }

  /** The live channel dropped: hold live events until `recover` has filled the gap. */
  hold(): void {
    if (this.closed || this.cursor === null) return;
    this.holding = true;
  }

  /**
   * The live channel is back: read what was published meanwhile (after
   * `cursor`) and deliver it before the live events held since the drop; if
   * that history is gone, resync every viewer.
   */
  recover(): void {
    if (this.closed || this.cursor === null) return;
    this.holding = true;
    if (this.recovering) {
      this.recoverAgain = true;
      return;
    }
    this.recovering = true;
    void this.runRecovery();
  }

  flush(): void {
    const whole = this.pending.take();
    if (!whole) return;
    const batch = whole.events;
    const position = batch[batch.length - 1].id;
    const laggards: FeedMember[] = [];
    for (const group of this.groups.values()) {
      let out = whole;
      if (!group.filter.matchesAll) {
        const events = batch.filter((e) => group.filter.matches(e.type));
        if (events.length < batch.length) out = new OutgoingBatch(events);
      }
      const events = out.events;
      if (events.length > 0 && group.live.size > 0) {
        for (const member of group.live) member.viewer.write(out);
        this.observer.delivered(events, group.live.size);
      }
      for (const member of group.members) {
        if (member.state === 'slow') {
          if (!this.slow.enqueue(member, events, position)) laggards.push(member);
        } else if (
          member.state === 'live' &&
          member.viewer.bufferedBytes() > this.options.softLimitBytes
        ) {
          this.enterSlow(member, position);
        }
      }
    }
    this.flushedUpTo = position;
    this.observer.emitted(batch);
    for (const member of laggards) this.lag(member, 'slow');
  }

  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.slow.close();
    this.pending.close();
    this.recoveryBuffer = [];
    this.members.clear();
    this.catchingUp.clear();
    this.groups.clear();
  }

  private ingest(event: EventEnvelope): void {
    if (this.cursor !== null && compareStreamIds(event.id, this.cursor) <= 0) return;
    this.cursor = event.id;
    // Pending before the members catching up see it: one that goes live now
    // gets it in its own catch-up, and the flush on its way in writes it to the others.
    this.pending.add(event);
    let overflowing: FeedMember[] | null = null;
    for (const member of this.catchingUp) {
      member.buffer.push(event);
      member.bufferBytes += eventBytes(event);
      if (member.state === 'armed' && compareStreamIds(event.id, member.threshold) >= 0) {
        this.goLive(member);
      } else if (member.bufferBytes > this.options.hardLimitBytes) {
        // Still catching up (a long replay to a slow reader): what it has not
        // been sent yet counts against the same hard limit as a live queue.
        (overflowing ??= []).push(member);
      }
    }
    if (overflowing) for (const member of overflowing) this.lag(member, 'slow');
    this.pending.schedule();
  }

  /**
   * Moves an armed viewer into its group's writes: whatever it buffered since its
   * catch-up goes out first, pending events go to the current members (this
   * viewer has them already), then it joins.
   */
  private goLive(member: FeedMember): void {
    const { events, last } = after(member.buffer, member.deliveredUpTo, member.filter);
    member.buffer = [];
    member.bufferBytes = 0;
    member.deliveredUpTo = last;
    if (events.length > 0) member.viewer.send(events);
    this.flush();
    this.enterGroup(member);
  }

  private enterGroup(member: FeedMember): void {
    this.catchingUp.delete(member);
    const group = this.group(member.filter);
    group.members.add(member);
    member.group = group;
    this.join(member);
  }

  private join(member: FeedMember): void {
    member.state = 'live';
    member.group!.live.add(member);
  }

  /** Over the soft limit: out of the group's writes, events queued (and merged) from now on. */
  private enterSlow(member: FeedMember, servedUpTo: string): void {
    member.group!.live.delete(member);
    this.slow.enter(member, servedUpTo);
  }

  private lag(member: FeedMember, reason: 'slow' | 'lost'): void {
    if (member.state === 'closed') return;
    const dropped = member.queue?.length ?? 0;
    const lastDeliveredId = this.servedUpTo(member);
    this.removeMember(member);
    if (dropped > 0) this.observer.dropped(member.viewer, dropped);
    this.options.onLagged(member, lastDeliveredId, reason);
  }

  /**
   * How far a member has been served: a live member got every batch flushed
   * since it joined; others are tracked on the member.
   */
  private servedUpTo(member: FeedMember): string {
    if (member.state === 'live' && compareStreamIds(this.flushedUpTo, member.deliveredUpTo) > 0) {
      return this.flushedUpTo;
    }
    return member.deliveredUpTo;
  }

  private async runRecovery(): Promise<void> {
    for (;;) {
      this.recoverAgain = false;
      try {
        const gap = this.recoveryOverflow ? null : await this.source.readAllAfter(this.cursor!);
        if (this.closed) return;
        if (gap) {
          this.observer.backfilled(gap.length);
          if (gap.length > 0) this.pending.withoutText();
          for (const event of gap) this.ingest(event);
        } else {
          await this.resync();
          if (this.closed) return;
        }
      } catch (err) {
        if (this.closed) return;
        this.observer.recoveryFailed(err);
        // Keep holding live events: releasing them now would skip the gap for good.
        this.retryTimer = setTimeout(() => {
          this.retryTimer = null;
          void this.runRecovery();
        }, RECOVERY_RETRY_MS);
        return;
      }
      if (!this.recoverAgain) break;
    }
    this.recovering = false;
    this.holding = false;
    this.recoveryOverflow = false;
    const held = this.recoveryBuffer;
    this.recoveryBuffer = [];
    if (held.length > 0) this.pending.withoutText();
    for (const event of held) this.ingest(event);
  }

  /**
   * History behind the cursor is gone (Redis restarted empty, or trimmed
   * past us): every viewer that was served from it starts over from a fresh
   * snapshot; viewers still reading history read again.
   */
  private async resync(): Promise<void> {
    this.flush();
    this.generation++;
    const served = [...this.members].filter((m) => m.state !== 'reading');
    if (!this.source.snapshot) {
      const position = await this.source.lastId();
      this.cursor = position;
      for (const member of served) this.lag(member, 'lost');
      this.observer.resynced(0);
      return;
    }
    const snapshot = await this.source.snapshot();
    if (this.closed) return;
    this.cursor = snapshot.position;
    this.flushedUpTo = snapshot.position;
    for (const member of served) {
      if (member.state === 'closed') continue;
      member.buffer = [];
      member.bufferBytes = 0;
      member.deliveredUpTo = snapshot.position;
      member.viewer.resync(this.stream.projectId, snapshot);
      if (member.state === 'slow') {
        this.slow.leave(member);
        this.join(member);
      } else if (member.state === 'armed') {
        this.enterGroup(member);
      }
    }
    this.observer.resynced(served.length);
  }

  private group(filter: TypeFilter): FilterGroup {
    let group = this.groups.get(filter.key);
    if (!group) {
      group = { filter, members: new Set(), live: new Set() };
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
    if (filter.matches(event.type)) out.push(event);
  }
  return { events: out, last };
}
