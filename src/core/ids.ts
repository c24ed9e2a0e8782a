import { randomUUID } from 'node:crypto';

export { compareStreamIds } from '../protocol/stream-id.js';

/** Every project, run and `...Id` value; also keeps ids safe inside Redis keys. */
export const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
/** A Redis stream id, `<ms>-<seq>`. */
export const STREAM_ID_PATTERN = /^\d{1,20}-\d{1,20}$/;

export const ZERO_ID = '0-0';

export function isId(value: unknown): value is string {
  return typeof value === 'string' && ID_PATTERN.test(value);
}

/** A fresh readable id such as `run-1a2b3c4d`, for entities created without one. */
export function shortId(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}
