import { createParser } from 'eventsource-parser';

/** One Server-Sent Events message. */
export interface SseMessage {
  /** `event:` field, `message` when absent. */
  event: string;
  data: string;
  id?: string;
}

/**
 * Incremental parser for the `text/event-stream` format (eventsource-parser,
 * which follows the WHATWG rules: CRLF, LF and CR line ends, comments,
 * multi-line data, a lone CR split across chunks): feed it chunks as they
 * arrive, get whole messages back. eventsource-parser 3.x, because 4.x needs
 * Node 22 and the package supports Node 20.
 */
export class SseParser {
  /** The last `retry:` the server asked for, ms. */
  retryMs: number | undefined;
  private parsed: SseMessage[] = [];
  private readonly parser = createParser({
    onEvent: ({ event, data, id }) => {
      const message: SseMessage = { event: event ?? 'message', data };
      if (id !== undefined) message.id = id;
      this.parsed.push(message);
    },
    onRetry: (ms) => {
      this.retryMs = ms;
    },
  });

  push(chunk: string): SseMessage[] {
    this.parser.feed(chunk);
    const out = this.parsed;
    this.parsed = [];
    return out;
  }
}
