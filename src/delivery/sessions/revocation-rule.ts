/**
 * A revocation applies to tokens issued at or before it. Token `iat` has
 * second precision, so the comparison is in whole seconds: a token issued in
 * the same second as the revocation is refused too (the safe side); one issued
 * in any later second is accepted.
 */
export function revokes(revokedAtMs: number, issuedAtMs: number): boolean {
  return Math.floor(issuedAtMs / 1000) <= Math.floor(revokedAtMs / 1000);
}
