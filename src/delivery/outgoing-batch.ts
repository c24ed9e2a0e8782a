import type { EventEnvelope } from '../core/envelope.js';
import { batchJson, type EventBatch } from '../core/event-store.port.js';

/** How one transport encodes a batch (a Socket.IO frame, SSE text). */
export interface BatchEncoder<T> {
  encode(batch: OutgoingBatch): T;
}

/**
 * One live batch on its way to the viewers of one filter group. It carries
 * its JSON text when the store gave one, and each transport's encoding of it
 * once the first viewer of that transport asked: a thousand viewers cost one
 * serialization (and one compression) per transport, and a write each.
 */
export class OutgoingBatch implements EventBatch {
  private readonly encodings = new Map<BatchEncoder<unknown>, unknown>();
  private json: string | undefined;

  constructor(
    readonly events: readonly EventEnvelope[],
    readonly text?: string,
  ) {}

  /** `JSON.stringify(events)`, computed at most once. */
  get jsonText(): string {
    this.json ??= batchJson(this);
    return this.json;
  }

  encoded<T>(encoder: BatchEncoder<T>): T {
    if (this.encodings.has(encoder)) return this.encodings.get(encoder) as T;
    const value = encoder.encode(this);
    this.encodings.set(encoder, value);
    return value;
  }
}
