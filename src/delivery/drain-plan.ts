/** Share of the drain window used for disconnects; the rest is for closing and exiting. */
const CLOSE_SHARE = 0.8;

/**
 * When to close each of `count` connections during a drain of `windowMs`: in
 * batches at least `batchEveryMs` apart, spread evenly over the first 80% of
 * the window, so reconnections reach the other replicas as a steady trickle
 * rather than a herd. Returns one delay (ms from now) per connection, in
 * batch order.
 */
export function planDrain(count: number, windowMs: number, batchEveryMs = 100): number[] {
  if (count === 0) return [];
  const usable = windowMs * CLOSE_SHARE;
  const batches = Math.max(1, Math.min(count, Math.floor(usable / batchEveryMs)));
  const step = usable / batches;
  const delays: number[] = [];
  for (let i = 0; i < count; i++) {
    delays.push(Math.round(Math.floor((i * batches) / count) * step));
  }
  return delays;
}
