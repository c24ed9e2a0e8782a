import type { EventEnvelope } from '../core/envelope.js';
import type { EventBatch } from '../core/event-store.port.js';
import { OutgoingBatch } from './outgoing-batch.js';

/**
 * A feed's live events waiting to be written, and when they will be: the
 * batching half of a feed. It also keeps the JSON texts of the live batches
 * the events came in, so a batch made of whole ones is written without
 * serializing it again.
 */
export class PendingBatch {
  private events: EventEnvelope[] = [];
  /**
   * The texts of the live batches `events` was made of, in order, and how
   * many events they cover: when that is all of `events`, the written batch
   * carries them joined. Null once something without a text was added (a gap
   * read from history).
   */
  private texts: string[] | null = [];
  private textEvents = 0;
  private timer: NodeJS.Timeout | null = null;
  /** A leading-edge flush is queued for the end of this turn. */
  private queued = false;
  /** When the last batch was taken (ms epoch): paces the next one. */
  private lastTakenAt = 0;
  private readonly flushNow = () => {
    this.queued = false;
    this.flush();
  };

  constructor(
    /** How long live events gather before a batch is written, ms (read per batch: it adapts). */
    private readonly windowMs: () => number,
    /** Writes the batch (`take`s it); called when it is due. */
    private readonly flush: () => void,
  ) {}

  /** 1 while a timer is set (leak checks). */
  get timers(): number {
    return this.timer ? 1 : 0;
  }

  /**
   * A live batch whose events are about to be added, each by `add`: its text
   * counts when the batch is whole and new (`fresh`).
   */
  arriving(batch: EventBatch, fresh: boolean): void {
    if (fresh && batch.text !== undefined && this.texts) {
      this.texts.push(batch.text);
      this.textEvents += batch.events.length;
    } else {
      this.texts = null;
    }
  }

  /** Events about to be added came from elsewhere (history): the batch has no text. */
  withoutText(): void {
    this.texts = null;
  }

  /** Adds an event; `schedule` once the events that arrived together are in. */
  add(event: EventEnvelope): void {
    this.events.push(event);
  }

  /** The batch to write now, or null when nothing waits. */
  take(): OutgoingBatch | null {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.events.length === 0) return null;
    this.lastTakenAt = Date.now();
    const events = this.events;
    const texts = this.textEvents === events.length ? this.texts : null;
    this.reset();
    return new OutgoingBatch(events, texts ? joinTexts(texts) : undefined);
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.reset();
  }

  private reset(): void {
    this.events = [];
    this.texts = [];
    this.textEvents = 0;
  }

  /** Makes sure the batch is written: at the end of this turn, or once a window has passed. */
  schedule(): void {
    if (this.timer || this.queued || this.events.length === 0) return;
    // Leading edge: an event after a quiet spell leaves at the end of this
    // turn of the event loop (with whatever else arrived in the same read
    // from Redis), never waiting for a timer: under load a timer fires only
    // after the rest of a long loop iteration, which was most of the
    // latency a busy replica added. A busy stream gathers until a window has
    // passed since its last batch, so a feed writes at most one batch per
    // window (one write per viewer each).
    const wait = this.windowMs() - (Date.now() - this.lastTakenAt);
    if (wait <= 0) {
      this.queued = true;
      queueMicrotask(this.flushNow);
    } else {
      this.timer = setTimeout(this.flushNow, wait);
    }
  }
}

/** Whole JSON arrays in order, as one array's text. */
function joinTexts(texts: readonly string[]): string {
  if (texts.length === 1) return texts[0];
  return `[${texts.map((text) => text.slice(1, -1)).join(',')}]`;
}
