import { GatewayError } from './errors.js';
import type { EventEnvelope, PendingEvent, PublishInput } from './envelope.js';
import type { EventStore, Expectation } from './event-store.port.js';
import { replay, type IdempotencyClaim, type WriteOutcome } from './idempotency.js';
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

  /**
   * `publishUnchecked` as an idempotent write: the events are appended with
   * `claim`'s record in one atomic step, or, when the key was claimed
   * first (a retry, or a twin in flight on another replica), the first
   * write's outcome comes back and nothing is published. A claim with
   * another fingerprint is IDEMPOTENCY_MISMATCH.
   */
  publishOnce<A>(
    projectId: string,
    inputs: readonly unknown[],
    defaultSource: string,
    claim: IdempotencyClaim,
    expectations?: readonly Expectation[],
  ): Promise<WriteOutcome<A>> {
    const pending = validateBatch(projectId, inputs, defaultSource, new Date());
    return this.appendValidated<A>(pending, expectations ?? [], claim);
  }

  /**
   * The HTTP publish API's write: `publishUnchecked`, on the condition that
   * the one entity the events name is at `expectedVersion` (when given), and
   * idempotent under `claim` (when given). Events naming no entity, or more
   * than one, cannot carry a version: INVALID_PAYLOAD.
   */
  publishRequest(
    projectId: string,
    inputs: readonly unknown[],
    defaultSource: string,
    conditions: { expectedVersion?: string | null; claim?: IdempotencyClaim },
  ): Promise<WriteOutcome<Record<string, never>>> {
    const { expectedVersion, claim } = conditions;
    const pending = validateBatch(projectId, inputs, defaultSource, new Date());
    const expectations =
      expectedVersion === undefined
        ? []
        : [{ entityKey: soleEntity(pending), version: expectedVersion }];
    return this.appendValidated(pending, expectations, claim);
  }

  private async appendValidated<A>(
    pending: PendingEvent[],
    expectations: readonly Expectation[],
    claim: IdempotencyClaim | undefined,
  ): Promise<WriteOutcome<A>> {
    if (!claim) {
      const stored = await this.store.append(pending, expectations);
      this.options.onPublished?.(stored);
      return { answer: {} as A, ids: stored.map((e) => e.id), replayed: false };
    }
    const result = await this.store.appendOnce(pending, claim, expectations);
    if (result.replayed) return replay<A>(result.record, claim.fingerprint);
    this.options.onPublished?.(result.events);
    return {
      answer: JSON.parse(claim.answer) as A,
      ids: result.events.map((e) => e.id),
      replayed: false,
    };
  }

  /**
   * What an earlier write with this claim's key did, or null when there was
   * none: looked up before a write is even prepared, so that a retry of a
   * domain write that went through is answered as the first was rather than
   * judged again against the state it changed.
   */
  async replayOf<A>(
    projectId: string,
    claim: Pick<IdempotencyClaim, 'key' | 'fingerprint'>,
  ): Promise<WriteOutcome<A> | null> {
    const record = await this.store.readIdempotency(projectId, claim.key);
    return record ? replay<A>(record, claim.fingerprint) : null;
  }
}

/** The one entity a conditional publish is about. */
function soleEntity(pending: readonly PendingEvent[]): string {
  const keys = new Set(pending.flatMap((e) => (e.entityKey === null ? [] : [e.entityKey])));
  if (keys.size !== 1) {
    throw new GatewayError(
      'INVALID_PAYLOAD',
      `If-Match needs events about exactly one entity; these name ${keys.size}`,
      [{ path: 'If-Match', problem: 'the events must name exactly one entity' }],
    );
  }
  return [...keys][0];
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
