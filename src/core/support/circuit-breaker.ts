import { UnavailableError } from '../errors.js';

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the breaker. */
  failures: number;
  /** How long it stays open before letting one probe through, ms. */
  openMs: number;
  /** Which errors count as failures (others, such as bad input, pass through uncounted). */
  isFailure: (error: unknown) => boolean;
  onStateChange?: (state: BreakerState) => void;
  now?: () => number;
}

/**
 * Closed: calls go through and consecutive failures are counted. Open: calls
 * fail at once (no work queued behind a sick dependency) until `openMs` has
 * passed. Half-open: exactly one probe goes through; its success closes the
 * breaker, its failure opens it again for another `openMs`.
 */
export class CircuitBreaker {
  private current: BreakerState = 'closed';
  private consecutiveFailures = 0;
  private openedAt = 0;
  private probing = false;
  private readonly now: () => number;

  constructor(private readonly options: CircuitBreakerOptions) {
    this.now = options.now ?? Date.now;
  }

  get state(): BreakerState {
    if (this.current === 'open' && this.now() - this.openedAt >= this.options.openMs) {
      this.set('half-open');
    }
    return this.current;
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    const state = this.state;
    if (state === 'open' || (state === 'half-open' && this.probing)) {
      const waitMs = Math.max(0, this.options.openMs - (this.now() - this.openedAt));
      throw new UnavailableError(
        `the event store is failing; writes are paused (circuit open), retry in ${Math.ceil(waitMs / 1000)} s`,
        Math.max(1, Math.ceil(waitMs / 1000)),
      );
    }
    const probe = state === 'half-open';
    if (probe) this.probing = true;
    try {
      const result = await work();
      this.consecutiveFailures = 0;
      if (this.current !== 'closed') this.set('closed');
      return result;
    } catch (err) {
      if (this.options.isFailure(err)) {
        this.consecutiveFailures++;
        if (probe || this.consecutiveFailures >= this.options.failures) {
          this.openedAt = this.now();
          this.set('open');
        }
      } else if (probe) {
        // The dependency answered (with a refusal of this input): it is healthy again.
        this.consecutiveFailures = 0;
        this.set('closed');
      }
      throw err;
    } finally {
      if (probe) this.probing = false;
    }
  }

  private set(state: BreakerState): void {
    if (this.current === state) return;
    this.current = state;
    this.options.onStateChange?.(state);
  }
}
