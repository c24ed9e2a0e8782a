import type { EventEnvelope } from '../core/envelope.js';
import { coalesceKey } from '../core/registry.js';

const sizes = new WeakMap<EventEnvelope, number>();

/** Encoded size of an event, bytes. */
export function jsonBytes(event: EventEnvelope): number {
  return Buffer.byteLength(JSON.stringify(event));
}

/**
 * Encoded size of a live event, computed once however many queues hold it.
 * Only for live events (one object shared by every viewer of a feed): a
 * WeakMap's table keeps the largest size it ever had, so events read for
 * one replay (hundreds of thousands, each read once) are measured with
 * `jsonBytes` instead.
 */
export function eventBytes(event: EventEnvelope): number {
  let size = sizes.get(event);
  if (size === undefined) {
    size = jsonBytes(event);
    sizes.set(event, size);
  }
  return size;
}

/**
 * The live events a slow viewer has not been sent yet. Coalescable events
 * (latest status of a task, subtask or agent; latest sample of a host) replace
 * the queued event of the same entity, and move to the end, so the queue stays
 * in id order and holds at most one entry per such entity; other events are
 * kept as they come. `bytes` is what the queue would write.
 */
export class SlowQueue {
  private items: (EventEnvelope | null)[] = [];
  private readonly byEntity = new Map<string, number>();
  private queuedBytes = 0;
  private count = 0;
  /** Stream position the queue serves its viewer up to, once written. */
  upTo: string | null = null;
  /** Events replaced by a later one of the same entity, over the queue's life. */
  merged = 0;

  get bytes(): number {
    return this.queuedBytes;
  }

  get length(): number {
    return this.count;
  }

  /** Queues `event`; true when it replaced an earlier event of the same entity. */
  push(event: EventEnvelope): boolean {
    const key = coalesceKey(event);
    let merged = false;
    if (key !== null) {
      const at = this.byEntity.get(key);
      if (at !== undefined) {
        this.queuedBytes -= eventBytes(this.items[at]!);
        this.items[at] = null;
        this.count--;
        this.merged++;
        merged = true;
      }
      this.byEntity.set(key, this.items.length);
    }
    this.items.push(event);
    this.queuedBytes += eventBytes(event);
    this.count++;
    return merged;
  }

  /** Everything queued, in id order; empties the queue. */
  take(): EventEnvelope[] {
    const events = this.items.filter((e): e is EventEnvelope => e !== null);
    this.items = [];
    this.byEntity.clear();
    this.queuedBytes = 0;
    this.count = 0;
    return events;
  }
}
