import { compilePattern, type Matcher } from '../events/pattern.js';
import { Batcher } from './batcher.js';
import type { EventEnvelope, Snapshot, SubscribeOptions } from './types.js';

/** Compares stream ids `<ms>-<seq>` by their numbers. */
export function compareIds(a: string, b: string): number {
  const [am, as] = a.split('-');
  const [bm, bs] = b.split('-');
  if (am.length !== bm.length) return am.length - bm.length;
  if (am !== bm) return am < bm ? -1 : 1;
  const sa = Number(as);
  const sb = Number(bs);
  return sa === sb ? 0 : sa < sb ? -1 : 1;
}

/**
 * One project as the client follows it: the last id applied (what it resumes
 * from), duplicates dropped by id, events batched to the application.
 */
export class ProjectFeed {
  /** Last id handed on; `since` for the next resume. Null before the first subscribe. */
  lastId: string | null = null;
  private pending: EventEnvelope[] = [];
  private readonly batcher: Batcher;
  /** The `types` filter, applied here too: polling reads unfiltered history. */
  private readonly matchers: Matcher[] | null;

  constructor(
    readonly projectId: string,
    readonly options: SubscribeOptions,
    batch: 'frame' | number,
  ) {
    this.batcher = new Batcher(batch, () => this.flush());
    this.matchers = options.types ? options.types.map(compilePattern) : null;
  }

  /** Live or replayed events: those at or before `lastId` are duplicates and dropped. */
  accept(events: EventEnvelope[]): void {
    for (const event of events) {
      if (this.lastId !== null && compareIds(event.id, this.lastId) <= 0) continue;
      this.lastId = event.id;
      if (this.matchers && !this.matchers.some((m) => m(event.type))) continue;
      this.pending.push(event);
    }
    if (this.pending.length > 0) this.batcher.schedule();
  }

  /** A snapshot at `position`: the first one, or a resync that replaces the application's state. */
  snapshot(snapshot: Snapshot, position: string, resync: boolean): void {
    this.flush();
    this.pending = [];
    this.lastId = position;
    if (resync) this.options.onResync?.(snapshot, position);
    else this.options.onSnapshot?.(snapshot, position);
  }

  /** Moves the resume point forward without events (a resumed subscribe with nothing missed). */
  position(position: string): void {
    if (this.lastId === null || compareIds(position, this.lastId) > 0) this.lastId = position;
  }

  error(error: { code: string; message: string }): void {
    this.options.onError?.(error);
  }

  flush(): void {
    if (this.pending.length === 0) return;
    const events = this.pending;
    this.pending = [];
    this.options.onEvents?.(events);
  }
}

/** One run's log lines as the client follows them (WebSocket transport). */
export class LogFeed {
  lastId: string | null = null;
  private pending: EventEnvelope[] = [];
  private readonly batcher: Batcher;

  constructor(
    readonly projectId: string,
    readonly runId: string,
    private readonly onLines: (lines: EventEnvelope[]) => void,
    batch: 'frame' | number,
  ) {
    this.batcher = new Batcher(batch, () => this.flush());
  }

  accept(lines: EventEnvelope[]): void {
    for (const line of lines) {
      if (this.lastId !== null && compareIds(line.id, this.lastId) <= 0) continue;
      this.lastId = line.id;
      this.pending.push(line);
    }
    if (this.pending.length > 0) this.batcher.schedule();
  }

  flush(): void {
    if (this.pending.length === 0) return;
    const lines = this.pending;
    this.pending = [];
    this.onLines(lines);
  }
}
