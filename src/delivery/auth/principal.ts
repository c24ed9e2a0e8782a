/** Who is on the other end of a socket or request, from a verified token. */
export interface Principal {
  /** The token's `sub`: the user or service. */
  sub: string;
  /** Projects this principal may see; `'*'` for all. */
  projects: '*' | ReadonlySet<string>;
  scopes: ReadonlySet<string>;
  /** `agent` for an agent (its `sub` is the agent id); absent for people and services. */
  role?: 'agent';
  /** `exp` in ms since the epoch. */
  expiresAt: number;
  /** `iat` in ms since the epoch. */
  issuedAt: number;
  /**
   * Projects revoked for this user after the token was issued: filled from the
   * revocation store when the token is accepted, and kept up to date on live
   * sockets as revocations arrive. Replaced, never changed in place (`revoke`):
   * nearly every principal shares `NO_REVOCATIONS`, one per live socket.
   */
  revoked: ReadonlySet<string>;
}

/** The `revoked` set of every principal with no revoked project. */
export const NO_REVOCATIONS: ReadonlySet<string> = new Set();

/** Records `projectId` as revoked for this principal from now on. */
export function revoke(principal: Principal, projectId: string): void {
  principal.revoked = new Set([...principal.revoked, projectId]);
}

export function canAccessProject(principal: Principal, projectId: string): boolean {
  if (principal.revoked.has(projectId)) return false;
  return principal.projects === '*' || principal.projects.has(projectId);
}

export function hasScope(principal: Principal, scope: string): boolean {
  return principal.scopes.has(scope);
}
