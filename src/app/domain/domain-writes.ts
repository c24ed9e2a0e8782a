import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../../config/app-config.js';
import type { EventEnvelope, PublishInput } from '../../core/envelope.js';
import { GatewayError } from '../../core/errors.js';
import {
  conflictWith,
  EVENT_STORE,
  type EventStore,
  type Expectation,
} from '../../core/event-store.port.js';
import type { WriteOutcome } from '../../core/idempotency.js';
import { EventPublisher } from '../../core/publisher.js';

/** What a caller adds to a domain write: its precondition and its idempotency key. */
export interface WriteOptions {
  /**
   * The version (`If-Match`) the caller saw of the entity the write is
   * about; `null`: that entity must not exist yet (`If-None-Match: *`).
   * A stale one is CONFLICT, and the write is not retried.
   */
  readonly expectedVersion?: string | null;
  /** The idempotency record's name and the request's fingerprint (`core/idempotency`). */
  readonly idempotency?: { readonly key: string; readonly fingerprint: string };
}

/** One attempt at a write, decided on what it read through its `WriteReads`. */
export interface PreparedWrite<A> {
  readonly events: readonly PublishInput[];
  /** What the write answers (besides its events' ids), recorded with its idempotency key. */
  readonly answer: A;
}

/**
 * The reads one attempt decides on. Every entity read becomes a condition of
 * the append (it must still be at the version read), so a decision made on
 * state another replica changed meanwhile is never published.
 */
export class WriteReads {
  readonly expectations = new Map<string, string | null>();

  constructor(
    private readonly store: EventStore,
    private readonly projectId: string,
    /** The entity `expectedVersion` is about. */
    private readonly subject: string,
    private readonly expectedVersion: string | null | undefined,
  ) {}

  /** The latest event of each entity (null: none), each now a condition of the write. */
  async entities(keys: readonly string[]): Promise<(EventEnvelope | null)[]> {
    const found = await this.store.readEntities(this.projectId, keys);
    keys.forEach((key, i) => this.expect(key, found[i]));
    return found;
  }

  /** The whole snapshot: only the entities then passed to `expect` become conditions. */
  async snapshot(): Promise<Record<string, EventEnvelope>> {
    return (await this.store.snapshot(this.projectId)).snapshot;
  }

  /** Makes `current` (what was read of `key`) a condition of the write. */
  expect(key: string, current: EventEnvelope | null): void {
    const version = current?.id ?? null;
    if (key === this.subject && this.expectedVersion !== undefined) {
      if (version !== this.expectedVersion) throw conflictWith(key, current);
    }
    this.expectations.set(key, version);
  }

  /** Reads the log stream of a run (its last line), which no condition covers. */
  async lastLogLine(runId: string): Promise<EventEnvelope | null> {
    const { events } = await this.store.readLatest({ projectId: this.projectId, runId }, 1);
    return events.at(-1) ?? null;
  }
}

/** Attempts a write makes when what it read changed under it, before answering CONFLICT. */
export const WRITE_ATTEMPTS = 3;

/**
 * How every domain write runs: with no state in this process. Each attempt
 * reads the entities it decides on from the store and appends its events on
 * the condition that they are unchanged (compare-and-append), so of two
 * replicas racing on one entity exactly one wins. The loser reads again and
 * decides again (usually: that move is no longer allowed, a CONFLICT with
 * the current state), unless the caller named the version it expected, which
 * is then simply stale. With an idempotency key, a write that already went
 * through answers what it answered then, before anything is read.
 */
@Injectable()
export class DomainWrites {
  private readonly ttlMs: number;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(EventPublisher) private readonly publisher: EventPublisher,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.ttlMs = config.idempotencyTtlSeconds * 1000;
  }

  /** Reads without writing (a `GET`), from the same store the writes condition on. */
  read(projectId: string, keys: readonly string[]): Promise<(EventEnvelope | null)[]> {
    return this.store.readEntities(projectId, keys);
  }

  /** The project's snapshot, for reads that span entities (a task's subtasks). */
  async snapshot(projectId: string): Promise<Record<string, EventEnvelope>> {
    return (await this.store.snapshot(projectId)).snapshot;
  }

  async write<A>(
    projectId: string,
    subject: string,
    options: WriteOptions,
    prepare: (reads: WriteReads) => Promise<PreparedWrite<A>>,
  ): Promise<WriteOutcome<A>> {
    const { idempotency, expectedVersion } = options;
    if (idempotency) {
      const replayed = await this.publisher.replayOf<A>(projectId, idempotency);
      if (replayed) return replayed;
    }
    for (let attempt = 1; ; attempt++) {
      const reads = new WriteReads(this.store, projectId, subject, expectedVersion);
      const { events, answer } = await prepare(reads);
      const expectations: Expectation[] = [...reads.expectations].map(([entityKey, version]) => ({
        entityKey,
        version,
      }));
      try {
        if (!idempotency) {
          const stored = await this.publisher.publishUnchecked(
            projectId,
            events,
            'gateway',
            expectations,
          );
          return { answer, ids: stored.map((e) => e.id), replayed: false };
        }
        const claim = { ...idempotency, answer: JSON.stringify(answer), ttlMs: this.ttlMs };
        return await this.publisher.publishOnce<A>(
          projectId,
          events,
          'gateway',
          claim,
          expectations,
        );
      } catch (err) {
        const raced = err instanceof GatewayError && err.code === 'CONFLICT';
        if (!raced || expectedVersion !== undefined || attempt >= WRITE_ATTEMPTS) throw err;
      }
    }
  }
}
