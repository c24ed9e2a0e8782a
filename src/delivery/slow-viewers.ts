import type { EventEnvelope } from '../core/envelope.js';
import { SlowQueue } from './slow-queue.js';
import type { FeedMember, FeedObserver } from './stream-feed.js';

/** How often slow viewers are checked for having caught up, ms. */
const SLOW_CHECK_MS = 50;

/**
 * A feed's members whose connections backed up past the soft limit: out of
 * their group's writes, their events queued (and merged by entity, see
 * SlowQueue) until the connection drains below half the soft limit, when
 * they get the queue and rejoin; past the hard limit the feed drops them.
 * One timer for all of a feed's slow members, only while there are some.
 */
export class SlowViewers {
  private readonly members = new Set<FeedMember>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly limits: { softLimitBytes: number; hardLimitBytes: number },
    private readonly observer: FeedObserver,
    /** A slow member caught up and was sent its queue: it rejoins its group's writes. */
    private readonly caughtUp: (member: FeedMember) => void,
  ) {}

  get size(): number {
    return this.members.size;
  }

  /** 1 while the check timer runs (leak checks). */
  get timers(): number {
    return this.timer ? 1 : 0;
  }

  /** Over the soft limit, served up to `servedUpTo`: its events are queued from now on. */
  enter(member: FeedMember, servedUpTo: string): void {
    member.deliveredUpTo = servedUpTo;
    member.state = 'slow';
    member.queue = new SlowQueue();
    this.members.add(member);
    this.tick();
    this.observer.slow(member.viewer, true, {
      bufferedBytes: member.viewer.bufferedBytes(),
      merged: 0,
    });
  }

  /** Queues a slow member's events (up to `position`); false when it is past the hard limit. */
  enqueue(member: FeedMember, events: readonly EventEnvelope[], position: string): boolean {
    const queue = member.queue!;
    let merged = 0;
    for (const event of events) if (queue.push(event)) merged++;
    if (merged > 0) this.observer.merged(merged);
    queue.upTo = position;
    return member.viewer.bufferedBytes() + queue.bytes <= this.limits.hardLimitBytes;
  }

  /** No longer slow (removed, resynced, or caught up): its queue goes. */
  leave(member: FeedMember): void {
    if (!this.members.delete(member)) return;
    member.queue = null;
    this.tick();
  }

  close(): void {
    this.members.clear();
    this.tick();
  }

  /** Members whose connection has drained get their queue and rejoin. */
  private check(): void {
    for (const member of [...this.members]) {
      if (member.viewer.bufferedBytes() > this.limits.softLimitBytes / 2) continue;
      const queue = member.queue!;
      const merged = queue.merged;
      const events = queue.take();
      this.leave(member);
      if (events.length > 0) member.viewer.send(events);
      if (queue.upTo !== null) member.deliveredUpTo = queue.upTo;
      this.caughtUp(member);
      this.observer.slow(member.viewer, false, {
        bufferedBytes: member.viewer.bufferedBytes(),
        merged,
      });
    }
  }

  private tick(): void {
    if (this.members.size > 0 && !this.timer) {
      this.timer = setInterval(() => this.check(), SLOW_CHECK_MS);
    } else if (this.members.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }
}
