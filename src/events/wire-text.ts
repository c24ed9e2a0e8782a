import type { EventEnvelope } from './envelope.js';

/** A live message as it came from Redis: its JSON text and the events parsed from it. */
interface Message {
  /** `[{...},{...}]`, exactly `JSON.stringify(events)`. */
  text: string;
  events: readonly EventEnvelope[];
}

/** By the message's first event; gone with the events. */
const messages = new WeakMap<EventEnvelope, Message>();

/**
 * Remembers the JSON text `events` were parsed from. The live message is the
 * stored envelopes joined by the append script, which is what
 * `JSON.stringify` of the parsed array gives back, so a batch made of whole
 * messages can be written without serializing it again (every replica did
 * that once per batch, for text it had just received).
 */
export function rememberText(events: readonly EventEnvelope[], text: string): void {
  if (events.length === 0) return;
  messages.set(events[0], { text, events });
}

/**
 * `JSON.stringify(batch)`, from the remembered messages when the batch is
 * whole messages in order (a filtered batch, or one the feed deduplicated,
 * is serialized as usual).
 */
export function batchText(batch: readonly EventEnvelope[]): string {
  const parts: string[] = [];
  let i = 0;
  while (i < batch.length) {
    const message = messages.get(batch[i]);
    if (!message || !message.events.every((event, k) => batch[i + k] === event)) {
      return JSON.stringify(batch);
    }
    parts.push(message.text);
    i += message.events.length;
  }
  if (parts.length === 1) return parts[0];
  return `[${parts.map((text) => text.slice(1, -1)).join(',')}]`;
}
