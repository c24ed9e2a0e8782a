import { ReplyError } from 'ioredis';
import { UnavailableError } from '../common/errors.js';

/**
 * A Redis reply error is a bug (bad script, wrong type) and stays as it is;
 * anything else (connection closed, offline, command timed out) means Redis is
 * unavailable right now, which callers turn into 503 / UNAVAILABLE.
 */
export async function withRedis<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof ReplyError) throw err;
    throw new UnavailableError(
      `redis unavailable: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}
