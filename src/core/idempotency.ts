import { createHash } from 'node:crypto';
import { GatewayError } from './errors.js';

/** `Idempotency-Key`: 1 to 128 visible ASCII characters. */
export const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]{1,128}$/;

/**
 * An idempotent write's claim, recorded by the store in the same atomic step
 * as the write's events, so a write that went through is never without its
 * record (a crash between the two would otherwise let a retry publish twice).
 */
export interface IdempotencyClaim {
  /** The record's name: a hash of the writer's `sub` and its key (keys are per `sub`). */
  readonly key: string;
  /** A hash of the request: the same key with another fingerprint is IDEMPOTENCY_MISMATCH. */
  readonly fingerprint: string;
  /** JSON of what the write answers besides its event ids, replayed as it is. */
  readonly answer: string;
  /** How long the record is kept, ms (`IDEMPOTENCY_TTL_SECONDS`). */
  readonly ttlMs: number;
}

/** What the first write with a key did: its fingerprint, its answer and its events' ids. */
export interface IdempotencyRecord {
  readonly fingerprint: string;
  readonly answer: string;
  readonly ids: readonly string[];
}

/** A write's outcome: what it answers and its events' ids, first time or replayed. */
export interface WriteOutcome<A> {
  readonly answer: A;
  readonly ids: readonly string[];
  /** True when a record answered: the first write's answer, nothing published now. */
  readonly replayed: boolean;
}

/** The record's name for `sub`'s `key`: a hash, so neither is stored nor limits the key's characters. */
export function idempotencyRecordKey(sub: string, key: string): string {
  if (!IDEMPOTENCY_KEY_PATTERN.test(key)) {
    throw new GatewayError(
      'INVALID_PAYLOAD',
      'Idempotency-Key must be 1 to 128 visible ASCII characters',
      [{ path: 'Idempotency-Key', problem: 'must be 1 to 128 visible ASCII characters' }],
    );
  }
  return sha256(`${sub}\n${key}`);
}

/** The fingerprint of a request: every part of it that decides what it does. */
export function requestFingerprint(parts: readonly string[]): string {
  return sha256(parts.join('\n'));
}

/** The record's outcome for a claim, or IDEMPOTENCY_MISMATCH when the key was used for another request. */
export function replay<A>(record: IdempotencyRecord, fingerprint: string): WriteOutcome<A> {
  if (record.fingerprint !== fingerprint) {
    throw new GatewayError(
      'IDEMPOTENCY_MISMATCH',
      'this Idempotency-Key was used for a different request: nothing was published',
    );
  }
  return { answer: JSON.parse(record.answer) as A, ids: record.ids, replayed: true };
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
