import jwt from 'jsonwebtoken';
import type { AppConfig } from '../config/app-config.js';
import { GatewayError } from '../common/errors.js';
import { isId } from '../common/ids.js';
import type { Principal } from './principal.js';

const MAX_TOKEN_LENGTH = 8 * 1024;

/**
 * Verifies bearer tokens with the algorithm pinned by configuration (HS256
 * with a secret, or RS256/ES256 with a public key): `exp` and `iat` required,
 * `nbf`, `aud` and `iss` checked, a bounded clock skew. Every failure is
 * UNAUTHORIZED with a reason that never includes the token.
 */
export class TokenVerifier {
  private readonly key: string;
  private readonly algorithm: jwt.Algorithm;

  constructor(private readonly config: AppConfig['jwt']) {
    if (config.publicKey) {
      this.key = config.publicKey.pem;
      this.algorithm = config.publicKey.algorithm;
    } else {
      this.key = config.secret ?? '';
      this.algorithm = 'HS256';
    }
  }

  verify(token: unknown): Principal {
    if (typeof token !== 'string' || token.length === 0) throw unauthorized('a token is required');
    if (token.length > MAX_TOKEN_LENGTH) throw unauthorized('token too long');
    let claims: jwt.JwtPayload;
    try {
      const decoded = jwt.verify(token, this.key, {
        algorithms: [this.algorithm],
        clockTolerance: this.config.clockSkewSeconds,
        ...(this.config.audience ? { audience: this.config.audience } : {}),
        ...(this.config.issuer ? { issuer: this.config.issuer } : {}),
      });
      if (typeof decoded === 'string') throw unauthorized('token payload must be a JSON object');
      claims = decoded;
    } catch (err) {
      if (err instanceof GatewayError) throw err;
      throw unauthorized(reason(err));
    }
    return toPrincipal(claims);
  }
}

function toPrincipal(claims: jwt.JwtPayload): Principal {
  if (typeof claims.exp !== 'number') throw unauthorized('token has no exp');
  if (typeof claims.iat !== 'number') throw unauthorized('token has no iat');
  if (typeof claims.sub !== 'string' || claims.sub.length === 0 || claims.sub.length > 256) {
    throw unauthorized('token has no valid sub');
  }
  const rawProjects: unknown = claims['projects'] ?? [];
  if (!Array.isArray(rawProjects) || rawProjects.length > 10_000) {
    throw unauthorized('projects claim must be an array');
  }
  let projects: Principal['projects'];
  if (rawProjects.length === 1 && rawProjects[0] === '*') {
    projects = '*';
  } else {
    if (!rawProjects.every(isId)) throw unauthorized('projects claim holds an invalid project id');
    projects = new Set(rawProjects);
  }
  const rawScope: unknown = claims['scope'] ?? '';
  if (typeof rawScope !== 'string') throw unauthorized('scope claim must be a string');
  return {
    sub: claims.sub,
    projects,
    scopes: new Set(rawScope.split(' ').filter(Boolean)),
    expiresAt: claims.exp * 1000,
    issuedAt: claims.iat * 1000,
  };
}

function reason(err: unknown): string {
  if (err instanceof jwt.TokenExpiredError) return 'token expired';
  if (err instanceof jwt.NotBeforeError) return 'token not yet valid';
  if (err instanceof jwt.JsonWebTokenError) {
    if (/audience/.test(err.message)) return 'token audience is not accepted';
    if (/issuer/.test(err.message)) return 'token issuer is not accepted';
    if (/signature/.test(err.message)) return 'token signature is invalid';
    if (/algorithm/.test(err.message)) return 'token algorithm is not accepted';
    return 'token is malformed';
  }
  return 'token is invalid';
}

function unauthorized(message: string): GatewayError {
  return new GatewayError('UNAUTHORIZED', message);
}
