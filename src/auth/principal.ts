/** Who is on the other end of a socket or request, from a verified token. */
export interface Principal {
  /** The token's `sub`: the user or service. */
  sub: string;
  /** Projects this principal may see; `'*'` for all. */
  projects: '*' | ReadonlySet<string>;
  scopes: ReadonlySet<string>;
  /** `exp` in ms since the epoch. */
  expiresAt: number;
  /** `iat` in ms since the epoch. */
  issuedAt: number;
}

export function canAccessProject(principal: Principal, projectId: string): boolean {
  return principal.projects === '*' || principal.projects.has(projectId);
}

export function hasScope(principal: Principal, scope: string): boolean {
  return principal.scopes.has(scope);
}
