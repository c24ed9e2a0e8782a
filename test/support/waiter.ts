/**
 * Waiting for a condition instead of sleeping: `until` checks the predicate
 * each time the owner calls `notify` (something arrived), and optionally
 * every `pollMs` for conditions that depend on more than what arrives.
 */
export class Waiter {
  private waiters: (() => void)[] = [];

  async until(
    predicate: () => boolean,
    timeoutMs: number,
    describe: () => string,
    pollMs?: number,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${describe()}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, pollMs === undefined ? left : Math.min(left, pollMs));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  notify(): void {
    const waiting = this.waiters;
    this.waiters = [];
    waiting.forEach((wake) => wake());
  }
}
