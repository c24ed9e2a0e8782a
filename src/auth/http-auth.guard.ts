import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import { GatewayError } from '../common/errors.js';
import type { Principal } from './principal.js';
import { TokenVerifier } from './token-verifier.js';

export type AuthedRequest = Request & { principal: Principal };

/** Bearer-token authentication for HTTP routes; the principal lands on `req.principal`. */
@Injectable()
export class HttpAuthGuard implements CanActivate {
  constructor(@Inject(TokenVerifier) private readonly verifier: TokenVerifier) {}

  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<AuthedRequest>();
    const header = req.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer\s+(\S+)$/i.exec(header) : null;
    if (!match)
      throw new GatewayError('UNAUTHORIZED', 'an Authorization: Bearer token is required');
    req.principal = this.verifier.verify(match[1]);
    return true;
  }
}
