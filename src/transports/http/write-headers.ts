import type { IncomingHttpHeaders } from 'node:http';
import { GatewayError } from '../../core/errors.js';
import { STREAM_ID_PATTERN } from '../../core/ids.js';
import { idempotencyRecordKey, requestFingerprint } from '../../core/idempotency.js';

/** What a write's headers ask for: a precondition and an idempotency key. */
export interface WriteConditions {
  /** `If-Match: "<id>"`: the entity's version; `If-None-Match: *`: null (must not exist). */
  expectedVersion?: string | null;
  /** `Idempotency-Key`, as the record's name and this request's fingerprint. */
  idempotency?: { key: string; fingerprint: string };
}

/**
 * Reads `If-Match`, `If-None-Match` and `Idempotency-Key` off a write
 * request, the same for the publish API and the domain routes. `sub` scopes
 * the key; the fingerprint covers what decides what the write does: method,
 * path, precondition and body (a retry must send the same).
 */
export function writeConditions(
  headers: IncomingHttpHeaders,
  sub: string,
  request: { method: string; path: string; body: unknown },
): WriteConditions {
  const conditions: WriteConditions = {};
  const ifMatch = single(headers['if-match'], 'If-Match');
  const ifNoneMatch = single(headers['if-none-match'], 'If-None-Match');
  if (ifMatch !== undefined && ifNoneMatch !== undefined) {
    throw invalid('If-Match', 'send If-Match or If-None-Match, not both');
  }
  if (ifMatch !== undefined) {
    const version = /^"([^"]*)"$/.exec(ifMatch.trim())?.[1];
    if (version === undefined || !STREAM_ID_PATTERN.test(version)) {
      throw invalid('If-Match', 'must be one quoted version, as an ETag gives it: "<event id>"');
    }
    conditions.expectedVersion = version;
  }
  if (ifNoneMatch !== undefined) {
    if (ifNoneMatch.trim() !== '*') throw invalid('If-None-Match', 'only * is understood');
    conditions.expectedVersion = null;
  }
  const key = single(headers['idempotency-key'], 'Idempotency-Key');
  if (key !== undefined) {
    conditions.idempotency = {
      key: idempotencyRecordKey(sub, key),
      fingerprint: requestFingerprint([
        request.method,
        request.path,
        ifMatch ?? '',
        ifNoneMatch ?? '',
        JSON.stringify(request.body ?? null),
      ]),
    };
  }
  return conditions;
}

/** The ETag of a version. */
export function etag(version: string): string {
  return `"${version}"`;
}

function single(value: string | string[] | undefined, name: string): string | undefined {
  if (Array.isArray(value)) throw invalid(name, 'must be sent once');
  return value;
}

function invalid(header: string, problem: string): GatewayError {
  return new GatewayError('INVALID_PAYLOAD', `${header} ${problem}`, [{ path: header, problem }]);
}
