import { fullJitterDelay } from './backoff.js';
import { GatewayClientError } from './types.js';

export interface OutgoingQueueOptions<T, R> {
  /** Sends one item; a `GatewayClientError` with `retriable` keeps it at the head for another try. */
  send: (item: T) => Promise<R>;
  /** Items waiting at most; one more is refused at once with `QUEUE_FULL`. */
  maxQueued: number;
  /** How long an item may wait, ms; past it, it is refused with `EXPIRED`. */
  ttlMs: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  now?: () => number;
}

interface Waiting<T, R> {
  readonly item: T;
  readonly deadline: number;
  resolve(result: R): void;
  reject(error: GatewayClientError): void;
}

/**
 * Writes waiting for the gateway, sent one at a time in the order they were
 * made: a write that cannot go now (network down, gateway unavailable or
 * rate limiting) stays at the head and is retried with backoff, or at once
 * when the connection is back (`wake`). Each write carries its own
 * idempotency key, so a retry after an answer that never arrived publishes
 * nothing twice. Bounded in count and in time; what does not fit or waits
 * too long is refused to its caller with a code, never dropped silently.
 */
export class OutgoingQueue<T, R> {
  private readonly waiting: Waiting<T, R>[] = [];
  private sending = false;
  private closed = false;
  private attempt = 0;
  /** `wake` was called while an attempt was in flight. */
  private woken = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly now: () => number;

  constructor(private readonly options: OutgoingQueueOptions<T, R>) {
    this.now = options.now ?? Date.now;
  }

  /** Writes waiting (the one in flight included). */
  get size(): number {
    return this.waiting.length;
  }

  enqueue(item: T): Promise<R> {
    if (this.closed) return Promise.reject(refusal('CLOSED', 'the client is closed'));
    if (this.waiting.length >= this.options.maxQueued) {
      return Promise.reject(
        refusal('QUEUE_FULL', `${this.options.maxQueued} writes are already waiting`),
      );
    }
    return new Promise<R>((resolve, reject) => {
      this.waiting.push({ item, deadline: this.now() + this.options.ttlMs, resolve, reject });
      void this.pump();
    });
  }

  /** The way to the gateway is back: try the head now rather than after its backoff. */
  wake(): void {
    // An attempt in flight that fails now was made before the way came back: retry it at once.
    if (this.sending) this.woken = true;
    if (this.timer === null) return;
    clearTimeout(this.timer);
    this.timer = null;
    this.attempt = 0;
    void this.pump();
  }

  /** Refuses every waiting write with `CLOSED`. */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const w of this.waiting.splice(0)) w.reject(refusal('CLOSED', 'the client was closed'));
  }

  private async pump(): Promise<void> {
    if (this.sending || this.timer !== null || this.closed) return;
    this.sending = true;
    try {
      for (;;) {
        this.expire();
        const head = this.waiting[0];
        if (!head) return;
        this.woken = false;
        try {
          const result = await this.options.send(head.item);
          this.settle(head).resolve(result);
          this.attempt = 0;
        } catch (err) {
          const error =
            err instanceof GatewayClientError
              ? err
              : new GatewayClientError('UNAVAILABLE', String(err), false, true);
          if (this.closed) return;
          if (!error.retriable) {
            this.settle(head).reject(error);
            continue;
          }
          if (this.woken) {
            this.woken = false;
            this.attempt = 0;
            continue;
          }
          const { initialBackoffMs, maxBackoffMs } = this.options;
          const delay = fullJitterDelay(this.attempt++, initialBackoffMs, maxBackoffMs);
          this.timer = setTimeout(() => {
            this.timer = null;
            void this.pump();
          }, delay);
          return;
        }
      }
    } finally {
      this.sending = false;
    }
  }

  /** Takes `head` off the queue (it is still first: only `expire` and `close` remove others). */
  private settle(head: Waiting<T, R>): Waiting<T, R> {
    if (this.waiting[0] === head) this.waiting.shift();
    return head;
  }

  /** Refuses every write past its time, wherever it waits. */
  private expire(): void {
    const now = this.now();
    for (let i = this.waiting.length - 1; i >= 0; i--) {
      const w = this.waiting[i];
      if (w.deadline > now) continue;
      this.waiting.splice(i, 1);
      w.reject(
        refusal(
          'EXPIRED',
          'not confirmed in time: it was not published, or its answer was lost (retry with the same idempotency key to know)',
        ),
      );
    }
  }
}

function refusal(code: string, message: string): GatewayClientError {
  return new GatewayClientError(code, message);
}
