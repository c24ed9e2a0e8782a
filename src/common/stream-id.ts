/**
 * Compares two stream ids `<ms>-<seq>` by their two numbers (not as strings:
 * "9-0" < "10-0"). BigInt keeps sequence numbers beyond 2^53 exact. Imports
 * nothing, so the browser client and dashboard share it with the server.
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
