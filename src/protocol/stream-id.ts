/**
 * Compares two stream ids `<ms>-<seq>` by their two numbers (not as strings:
 * "9-0" < "10-0"), digit by digit, so numbers of any length stay exact and
 * nothing is allocated (it runs for every live event). Imports nothing, so
 * the browser client and dashboard share it with the server.
 */
export function compareStreamIds(a: string, b: string): number {
  const aDash = a.indexOf('-');
  const bDash = b.indexOf('-');
  return (
    compareDigits(a, 0, aDash, b, 0, bDash) ||
    compareDigits(a, aDash + 1, a.length, b, bDash + 1, b.length)
  );
}

/** Compares the decimal numbers `a[aFrom, aTo)` and `b[bFrom, bTo)`. */
function compareDigits(
  a: string,
  aFrom: number,
  aTo: number,
  b: string,
  bFrom: number,
  bTo: number,
): number {
  // Leading zeros do not count: "007" is 7.
  while (aFrom < aTo - 1 && a.charCodeAt(aFrom) === 48) aFrom++;
  while (bFrom < bTo - 1 && b.charCodeAt(bFrom) === 48) bFrom++;
  const length = aTo - aFrom;
  if (length !== bTo - bFrom) return length < bTo - bFrom ? -1 : 1;
  for (let i = 0; i < length; i++) {
    const diff = a.charCodeAt(aFrom + i) - b.charCodeAt(bFrom + i);
    if (diff !== 0) return diff < 0 ? -1 : 1;
  }
  return 0;
}
