import type { EventEnvelope } from '../../src/core/envelope.js';
import { SseParser, type SseMessage } from '../../src/client/sse-parser.js';
import { Waiter } from './waiter.js';

/**
 * A test SSE reader over fetch: records every message (heartbeats excluded),
 * lets a test wait for a condition and abort the stream.
 */
export class SseReader {
  readonly messages: SseMessage[] = [];
  readonly done: Promise<void>;
  private readonly waiter = new Waiter();
  private ended = false;

  private constructor(
    readonly status: number,
    private readonly body: ReadableStream<Uint8Array> | null,
    private readonly controller: AbortController,
  ) {
    this.done = this.pump();
  }

  static async open(url: string, headers: Record<string, string> = {}): Promise<SseReader> {
    const controller = new AbortController();
    const res = await fetch(url, { headers, signal: controller.signal });
    if (res.status !== 200) {
      const reader = new SseReader(res.status, null, controller);
      reader.errorBody = await res.text();
      return reader;
    }
    return new SseReader(res.status, res.body, controller);
  }

  errorBody = '';

  get isEnded(): boolean {
    return this.ended;
  }

  /** Project events and log lines, parsed, in arrival order. */
  get events(): EventEnvelope[] {
    return this.messages
      .filter((m) => m.event === 'message')
      .map((m) => JSON.parse(m.data) as EventEnvelope);
  }

  named(event: string): unknown[] {
    return this.messages.filter((m) => m.event === event).map((m) => JSON.parse(m.data) as unknown);
  }

  until(predicate: (r: SseReader) => boolean, timeoutMs = 10_000): Promise<void> {
    return this.waiter.until(
      () => predicate(this),
      timeoutMs,
      () => `the stream; ${this.messages.length} messages`,
    );
  }

  close(): void {
    this.controller.abort();
  }

  private async pump(): Promise<void> {
    if (!this.body) {
      this.ended = true;
      return;
    }
    const parser = new SseParser();
    const decoder = new TextDecoder();
    const reader = this.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        this.messages.push(...parser.push(decoder.decode(value, { stream: true })));
        this.waiter.notify();
      }
    } catch {
      // aborted
    }
    this.ended = true;
    this.waiter.notify();
  }
}
