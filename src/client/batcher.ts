/**
 * Coalesces work into one call per animation frame (browsers) or per window
 * of `ms`, so a burst of 1,000 events is one UI update, not a thousand.
 */
export class Batcher {
  private scheduled = false;

  constructor(
    private readonly mode: 'frame' | number,
    private readonly flush: () => void,
  ) {}

  schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    const run = () => {
      this.scheduled = false;
      this.flush();
    };
    const raf = (globalThis as { requestAnimationFrame?: (cb: () => void) => number })
      .requestAnimationFrame;
    if (this.mode === 'frame' && typeof raf === 'function') raf(run);
    else setTimeout(run, this.mode === 'frame' ? 16 : this.mode);
  }
}
