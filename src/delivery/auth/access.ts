import { GatewayError } from '../../core/errors.js';
import { isId } from '../../core/ids.js';
import { canAccessProject, hasScope, type Principal } from './principal.js';

/** Validates a project id from a URL and checks the principal may use it. */
export function requireProject(principal: Principal, projectId: string, scope?: string): string {
  if (!isId(projectId)) {
    throw new GatewayError('INVALID_PAYLOAD', 'projectId must match ^[A-Za-z0-9_-]{1,64}$', [
      { path: 'projectId', problem: 'must match ^[A-Za-z0-9_-]{1,64}$' },
    ]);
  }
  if (scope && !hasScope(principal, scope)) {
    throw new GatewayError('FORBIDDEN', `this token lacks the ${scope} scope`);
  }
  if (!canAccessProject(principal, projectId)) {
    throw new GatewayError('FORBIDDEN', `no access to project ${projectId}`);
  }
  return projectId;
}
