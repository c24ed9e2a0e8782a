import { GatewayError } from './errors.js';
import type { EventEnvelope, PendingEvent, PublishInput } from './envelope.js';
import type { EventStore, Expectation } from './event-store.port.js';
import { validateEvent } from './validate-event.js';

/** The most events one publish call takes (the HTTP API's array limit). */
export const MAX_EVENTS_PER_PUBLISH = 100;

export interface PublisherOptions {
  /** Called after every successful publish (metrics). */
  onPublished?: (events: EventEnvelope[]) => void;
}

/**
 * How events enter the system, whichever store holds them: each is validated
 * against the registry (unknown types, missing or unknown fields are
 * `INVALID_PAYLOAD` with a `details` list, and nothing is stored), stamped
 * with `occurredAt` and its source, and appended in one atomic step.
 * Domain modules call `publish`; the HTTP API calls `publishUnchecked`.
 */
export class EventPublisher {
  constructor(
    private readonly store: EventStore,
    private readonly options: PublisherOptions = {},
  ) {}

  async publish(input: PublishInput): Promise<EventEnvelope> {
    const [event] = await this.publishMany([input]);
    return event;
  }

  /** All or nothing, one project; at most 100 events. */
  publishMany(inputs: readonly PublishInput[]): Promise<EventEnvelope[]> {
    const projectId = inputs[0]?.projectId ?? '';
    return this.publishUnchecked(projectId, inputs, 'gateway');
  }

  /**
   * Untrusted input (HTTP API): validated here, coded INVALID_PAYLOAD on
   * failure. With `expectations`, a conditional append (see `EventStore.append`).
   */
  async publishUnchecked(
    projectId: string,
    inputs: readonly unknown[],
    defaultSource: string,
    expectations?: readonly Expectation[],
  ): Promise<EventEnvelope[]> {
    const pending = validateBatch(projectId, inputs, defaultSource, new Date());
    const stored = await this.store.append(pending, expectations);
    this.options.onPublished?.(stored);
    return stored;
  }
}

/** Validates and stamps one publish call's events, or throws one coded error listing every problem. */
function validateBatch(
  projectId: string,
  inputs: readonly unknown[],
  defaultSource: string,
  now: Date,
): PendingEvent[] {
  if (inputs.length === 0) {
    throw new GatewayError('INVALID_PAYLOAD', 'nothing to publish', [
      { path: '(root)', problem: 'must contain at least one event' },
    ]);
  }
  if (inputs.length > MAX_EVENTS_PER_PUBLISH) {
    throw new GatewayError(
      'PAYLOAD_TOO_LARGE',
      `at most ${MAX_EVENTS_PER_PUBLISH} events per publish, got ${inputs.length}`,
    );
  }
  const pending: PendingEvent[] = [];
  const problems: unknown[] = [];
  inputs.forEach((input, i) => {
    const withProject =
      input !== null && typeof input === 'object' && !Array.isArray(input)
        ? { projectId, ...input }
        : input;
    const at = inputs.length > 1 ? `[${i}]` : '';
    try {
      const event = validateEvent(withProject, defaultSource, now, at);
      if (event.projectId !== projectId) {
        problems.push({
          path: at ? `${at}.projectId` : 'projectId',
          problem: `must be ${projectId}`,
        });
      } else {
        pending.push(event);
      }
    } catch (err) {
      if (err instanceof GatewayError && Array.isArray(err.details))
        problems.push(...(err.details as unknown[]));
      else throw err;
    }
  });
  if (problems.length > 0) {
    throw new GatewayError('INVALID_PAYLOAD', 'invalid events: nothing was published', problems);
  }
  return pending;
}
