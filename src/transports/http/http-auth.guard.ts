import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import { GatewayError } from '../../core/errors.js';
import { Authenticator } from '../../delivery/auth/authenticator.js';
import type { Principal } from '../../delivery/auth/principal.js';

export type AuthedRequest = Request & { principal: Principal };

/** The token of an `Authorization: Bearer` header; UNAUTHORIZED when missing or malformed. */
export function bearerToken(header: string | undefined): string {
  const match = typeof header === 'string' ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  if (!match) throw new GatewayError('UNAUTHORIZED', 'an Authorization: Bearer token is required');
  return match[1];
}

/** Bearer-token authentication for HTTP routes; the principal lands on `req.principal`. */
@Injectable()
export class HttpAuthGuard implements CanActivate {
  constructor(@Inject(Authenticator) private readonly auth: Authenticator) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const req = context.switchToHttp().getRequest<AuthedRequest>();
    req.principal = await this.auth.authenticate(bearerToken(req.headers.authorization));
    return true;
  }
}
