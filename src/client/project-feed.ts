import { compareStreamIds } from '../protocol/stream-id.js';
import { compilePattern, type Matcher } from '../core/pattern.js';
import { Batcher } from './batcher.js';
import type { EventEnvelope, Snapshot, SubscribeOptions } from './types.js';

/**
 * One stream as the client follows it: the last id applied (what a resume
 * starts from), duplicates dropped by id, events batched to the application.
 */
abstract class StreamFollower {
  /** Last id handed on; `since` for the next resume. Null before the first subscribe. */
  lastId: string | null = null;
  private pending: EventEnvelope[] = [];
  private readonly batcher: Batcher;

  protected constructor(batch: 'frame' | number) {
    this.batcher = new Batcher(batch, () => this.flush());
  }

  /** Live or replayed events: those at or before `lastId` are duplicates and dropped. */
  accept(events: EventEnvelope[]): void {
    for (const event of events) {
      if (this.lastId !== null && compareStreamIds(event.id, this.lastId) <= 0) continue;
      this.lastId = event.id;
      if (this.wants(event)) this.pending.push(event);
    }
    if (this.pending.length > 0) this.batcher.schedule();
  }

  flush(): void {
    if (this.pending.length === 0) return;
    const events = this.pending;
    this.pending = [];
    this.deliver(events);
  }

  /** Drops what is batched and not yet delivered (a resync replaces it). */
  protected discardPending(): void {
    this.pending = [];
  }

  protected wants(_event: EventEnvelope): boolean {
    return true;
  }

  protected abstract deliver(events: EventEnvelope[]): void;
}

/** One project: its events, snapshots and resyncs. */
export class ProjectFeed extends StreamFollower {
  /** The `types` filter, applied here too: polling reads unfiltered history. */
  private readonly matchers: Matcher[] | null;

  constructor(
    readonly projectId: string,
    readonly options: SubscribeOptions,
    batch: 'frame' | number,
  ) {
    super(batch);
    this.matchers = options.types ? options.types.map(compilePattern) : null;
  }

  /** A snapshot at `position`: the first one, or a resync that replaces the application's state. */
  snapshot(snapshot: Snapshot, position: string, resync: boolean): void {
    this.flush();
    this.discardPending();
    this.lastId = position;
    if (resync) this.options.onResync?.(snapshot, position);
    else this.options.onSnapshot?.(snapshot, position);
  }

  /** Moves the resume point forward without events (a resumed subscribe with nothing missed). */
  position(position: string): void {
    if (this.lastId === null || compareStreamIds(position, this.lastId) > 0) this.lastId = position;
  }

  error(error: { code: string; message: string }): void {
    this.options.onError?.(error);
  }

  protected override wants(event: EventEnvelope): boolean {
    return !this.matchers || this.matchers.some((m) => m(event.type));
  }

  protected deliver(events: EventEnvelope[]): void {
    this.options.onEvents?.(events);
  }
}

/** One run's log lines (WebSocket transport). */
export class LogFeed extends StreamFollower {
  constructor(
    readonly projectId: string,
    readonly runId: string,
    private readonly onLines: (lines: EventEnvelope[]) => void,
    batch: 'frame' | number,
  ) {
    super(batch);
  }

  protected deliver(lines: EventEnvelope[]): void {
    this.onLines(lines);
  }
}
