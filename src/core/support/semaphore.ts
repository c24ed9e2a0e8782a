/**
 * At most `limit` tasks run at once; the rest wait their turn in arrival
 * order. Small enough to keep here rather than take a dependency for
 * (p-limit does the same and no more).
 */
export class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  /** Tasks waiting for a turn. */
  get queued(): number {
    return this.waiting.length;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active < this.limit) this.active++;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await task();
    } finally {
      // The turn passes straight to the next task, so `active` stays as it is.
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}
