import type { CircuitBreaker } from '../../core/support/circuit-breaker.js';
import { UnavailableError } from '../../core/errors.js';
import type { EventEnvelope, PendingEvent, Snapshot } from '../../core/envelope.js';
import type {
  EventStore,
  Expectation,
  LatestResult,
  LiveHandler,
  LiveState,
  LiveSubscription,
  ReadAfterResult,
  ReadTypesResult,
  StreamRef,
} from '../../core/event-store.port.js';

/**
 * Appends to a remote store fail fast: at once while the connection is known
 * to be down (heartbeat), and through a circuit breaker after repeated
 * failures, so publishers get 503 in microseconds instead of each waiting out a
 * command timeout. Reads and live delivery pass straight through; they serve
 * viewers who can retry on their own.
 */
export class GuardedEventStore implements EventStore {
  constructor(
    private readonly inner: EventStore,
    private readonly breaker: CircuitBreaker,
    private readonly writable: () => boolean,
  ) {}

  append(events: PendingEvent[], expectations?: readonly Expectation[]): Promise<EventEnvelope[]> {
    if (!this.writable()) {
      return Promise.reject(new UnavailableError('the event store is unreachable, retry shortly'));
    }
    return this.breaker.run(() => this.inner.append(events, expectations));
  }

  readAfter(stream: StreamRef, since: string, limit: number): Promise<ReadAfterResult> {
    return this.inner.readAfter(stream, since, limit);
  }

  readTypesAfter(stream: StreamRef, since: string, limit: number): Promise<ReadTypesResult> {
    return this.inner.readTypesAfter(stream, since, limit);
  }

  readLatest(stream: StreamRef, limit: number): Promise<LatestResult> {
    return this.inner.readLatest(stream, limit);
  }

  snapshot(projectId: string): Promise<Snapshot> {
    return this.inner.snapshot(projectId);
  }

  subscribe(projectId: string, pattern: string, handler: LiveHandler): Promise<LiveSubscription> {
    return this.inner.subscribe(projectId, pattern, handler);
  }

  unsubscribe(subscription: LiveSubscription): Promise<void> {
    return this.inner.unsubscribe(subscription);
  }

  listeningProjects(): string[] {
    return this.inner.listeningProjects();
  }

  onLiveStateChange(listener: (state: LiveState) => void): void {
    this.inner.onLiveStateChange(listener);
  }
}
