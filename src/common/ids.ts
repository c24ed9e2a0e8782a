import { randomUUID } from 'node:crypto';

/** Every project, run and `...Id` value; also keeps ids safe inside Redis keys. */
export const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
/** A Redis stream id, `<ms>-<seq>`. */
export const STREAM_ID_PATTERN = /^\d{1,20}-\d{1,20}$/;

export const ZERO_ID = '0-0';

export function isId(value: unknown): value is string {
  return typeof value === 'string' && ID_PATTERN.test(value);
}

/**
 * Compares two stream ids by their two numbers (not as strings: "9-0" < "10-0").
 * BigInt keeps sequence numbers beyond 2^53 exact.
 */
export function compareStreamIds(a: string, b: string): number {
  const [am, as] = splitId(a);
  const [bm, bs] = splitId(b);
  if (am !== bm) return am < bm ? -1 : 1;
  if (as !== bs) return as < bs ? -1 : 1;
  return 0;
}

function splitId(id: string): [bigint, bigint] {
  const dash = id.indexOf('-');
  return [BigInt(id.slice(0, dash)), BigInt(id.slice(dash + 1))];
}

/** A fresh readable id such as `run-1a2b3c4d`, for entities created without one. */
export function shortId(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}
