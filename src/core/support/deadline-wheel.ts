/**
 * Deadlines for many items on one timer. Items wait in buckets `tickMs` wide
 * and each is handed to `due` once its deadline has passed, at most `tickMs`
 * late. It replaces a timer per item where there are thousands of items
 * (each socket's token expiry): a Timeout with its closure costs a few hundred
 * bytes per socket, a bucket entry a few dozen.
 */
export class DeadlineWheel<T> {
  private readonly buckets = new Map<number, Set<T>>();
  private timer: NodeJS.Timeout | null = null;
  /** The next bucket to fire: every earlier one has fired. */
  private cursor: number;
  private count = 0;

  /**
   * @param due called once per item whose deadline passed (and was not cancelled)
   * @param tickMs bucket width and timer period, ms (default 250)
   * @param now the clock, ms epoch (tests pass their own)
   */
  constructor(
    private readonly due: (item: T) => void,
    private readonly tickMs = 250,
    private readonly now: () => number = Date.now,
  ) {
    this.cursor = this.firstOpenSlot();
  }

  /** Items waiting. */
  get size(): number {
    return this.count;
  }

  /** Schedules `item` at `at` (ms epoch); returns the slot `cancel` needs. */
  add(item: T, at: number): number {
    if (this.count === 0) this.cursor = this.firstOpenSlot();
    // A deadline already past fires on the next tick.
    const slot = Math.max(this.slotOf(at), this.cursor);
    let bucket = this.buckets.get(slot);
    if (!bucket) {
      bucket = new Set();
      this.buckets.set(slot, bucket);
    }
    if (!bucket.has(item)) {
      bucket.add(item);
      this.count++;
    }
    if (!this.timer) {
      this.timer = setInterval(() => this.tick(), this.tickMs);
      // Deadlines alone never keep the process alive.
      this.timer.unref();
    }
    return slot;
  }

  /** Takes `item` out of `slot` (from `add`); nothing when it already fired. */
  cancel(item: T, slot: number): void {
    const bucket = this.buckets.get(slot);
    if (!bucket?.delete(item)) return;
    this.count--;
    if (bucket.size === 0) this.buckets.delete(slot);
    if (this.count === 0) this.stop();
  }

  /** Fires every bucket whose time has come. */
  tick(): void {
    const last = this.firstOpenSlot() - 1;
    for (; this.cursor <= last && this.count > 0; this.cursor++) {
      const bucket = this.buckets.get(this.cursor);
      if (!bucket) continue;
      this.buckets.delete(this.cursor);
      this.count -= bucket.size;
      for (const item of bucket) this.due(item);
    }
    if (this.count === 0) this.stop();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Bucket `s` holds deadlines in ((s - 1) * tick, s * tick]: it fires once s * tick is reached. */
  private slotOf(at: number): number {
    return Math.ceil(at / this.tickMs);
  }

  /** The earliest bucket whose time has not come yet. */
  private firstOpenSlot(): number {
    return Math.floor(this.now() / this.tickMs) + 1;
  }
}
