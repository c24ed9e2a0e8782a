/**
 * Exponential backoff with full jitter: a uniformly random delay between 0
 * and min(max, initial × 2^attempt). Spreads a crowd of clients that lost the
 * same replica instead of bringing them back in waves.
 */
export function fullJitterDelay(
  attempt: number,
  initialMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}
