import type { CircuitBreaker } from '../common/circuit-breaker.js';
import { UnavailableError } from '../common/errors.js';
import type { EventEnvelope, PendingEvent, Snapshot } from '../events/envelope.js';
import type {
  EventHistory,
  LatestResult,
  ReadAfterResult,
  ReadTypesResult,
  StreamRef,
} from './event-history.port.js';

/**
 * Writes to a remote history fail fast: at once while the connection is known
 * to be down (heartbeat), and through a circuit breaker after repeated
 * failures, so publishers get 503 in microseconds instead of each waiting out a
 * command timeout. Reads pass straight through; they serve viewers who can
 * retry on their own.
 */
export class GuardedEventHistory implements EventHistory {
  constructor(
    private readonly inner: EventHistory,
    private readonly breaker: CircuitBreaker,
    private readonly writable: () => boolean,
  ) {}

  append(events: PendingEvent[]): Promise<EventEnvelope[]> {
    if (!this.writable()) {
      return Promise.reject(new UnavailableError('the event store is unreachable, retry shortly'));
    }
    return this.breaker.run(() => this.inner.append(events));
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
}
