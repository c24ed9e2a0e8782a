import { performance, type EventLoopUtilization } from 'node:perf_hooks';

/** Default window when the replica is idle, ms (BATCH_WINDOW_MIN_MS): how soon after a batch a busy stream may send the next. */
export const IDLE_WINDOW_MS = 2;
/**
 * Event-loop utilization up to which the idle window holds. Low on purpose:
 * once the hot paths got cheap, a replica writing a frame per socket every
 * few milliseconds sat at 20-40% utilization, under a higher threshold, and
 * spent its time (and its viewers' time) on frames of two or three events.
 */
const CALM = 0.1;
/** Utilization from which the full window (the configured bound) applies. */
const BUSY = 0.5;
/** How often utilization is sampled, ms. */
const SAMPLE_MS = 200;

export type UtilizationSampler = (previous?: EventLoopUtilization) => EventLoopUtilization;

/**
 * How long a feed lets live events gather before writing them as one
 * `events` frame. Every batch costs one write per viewer socket (a syscall
 * each, which is where a busy replica's time goes), so when the event loop is
 * idle a stream may write again `IDLE_WINDOW_MS` after its last batch, and
 * as it gets busy the window widens linearly up to `boundMs`
 * (BATCH_WINDOW_MS): fewer, larger frames for the same events. A feed applies it on the leading edge (stream-feed.ts):
 * an event after a quiet spell leaves at the end of its event-loop turn; only
 * a busy stream waits out the window since its previous batch. The bound is
 * never exceeded, so it is also the most latency batching adds.
 */
export class BatchPacer {
  private window: number;
  private smoothed = 0;
  private last: EventLoopUtilization | undefined;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly boundMs: number,
    /** The window while the replica is idle (BATCH_WINDOW_MIN_MS), ms; never above `boundMs`. */
    private readonly idleMs: number = IDLE_WINDOW_MS,
    private readonly sample: UtilizationSampler = (prev) => performance.eventLoopUtilization(prev),
  ) {
    this.window = Math.min(idleMs, boundMs);
  }

  /** The current batch window, ms. */
  get windowMs(): number {
    return this.window;
  }

  /** Feeds the pacer one utilization reading (0..1); smoothed over the last second or so. */
  observe(utilization: number): void {
    this.smoothed = this.smoothed * 0.7 + utilization * 0.3;
    const idle = Math.min(this.idleMs, this.boundMs);
    const busy = Math.min(1, Math.max(0, (this.smoothed - CALM) / (BUSY - CALM)));
    this.window = Math.round(idle + (this.boundMs - idle) * busy);
  }

  start(): void {
    if (this.timer) return;
    this.last = this.sample();
    this.timer = setInterval(() => {
      const delta = this.sample(this.last);
      this.last = this.sample();
      this.observe(delta.utilization);
    }, SAMPLE_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
