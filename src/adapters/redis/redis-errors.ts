import { ReplyError } from 'ioredis';
import { UnavailableError } from '../../core/errors.js';

/**
 * Replies that mean "Redis cannot take writes right now" rather than "this
 * command is wrong": out of memory, a read-only replica, loading a dump, a
 * busy script, a cluster without quorum.
 */
const UNAVAILABLE_REPLY = /^(OOM|READONLY|LOADING|BUSY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN)\b/;

/**
 * Any other reply error is a bug (bad script, wrong type) and stays as it is;
 * everything else (connection closed, offline, command timed out, the replies
 * above) means Redis is unavailable right now, which callers turn into 503 /
 * UNAVAILABLE and the circuit breaker counts.
 */
export async function withRedis<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof ReplyError && !UNAVAILABLE_REPLY.test((err as Error).message)) throw err;
    throw new UnavailableError(
      `redis unavailable: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}
