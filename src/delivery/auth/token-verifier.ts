import {
  createRemoteJWKSet,
  errors,
  importSPKI,
  jwtVerify,
  type CryptoKey,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import type { AppConfig } from '../../config/app-config.js';
import { GatewayError } from '../../core/errors.js';
import { isId } from '../../core/ids.js';
import { NO_REVOCATIONS, type Principal } from './principal.js';
import { TokenCache } from './token-cache.js';

const MAX_TOKEN_LENGTH = 8 * 1024;
/** How long a JWKS fetch may take before verification gives up (503), ms. */
const JWKS_TIMEOUT_MS = 5000;

type KeySource = Uint8Array | CryptoKey | JWTVerifyGetKey;

/**
 * Verifies bearer tokens with the algorithm pinned by configuration: HS256
 * with a secret; RS256 or ES256 with a public key; with a JWKS URL, RS256 or
 * ES256 as each key's type dictates (jose refuses a key used with another
 * algorithm, `alg: none`, and an HS256 token "signed" with a public key).
 * `exp`, `iat` and `sub` required; `nbf`, `aud`, `iss` checked with the
 * configured clock skew. Every failure is UNAUTHORIZED with a reason that
 * never includes the token; a JWKS that cannot be fetched is UNAVAILABLE.
 */
export class TokenVerifier {
  private readonly key: Promise<KeySource>;
  private readonly algorithms: string[];
  private readonly cache = new TokenCache();

  constructor(private readonly config: AppConfig['jwt']) {
    if (config.jwks) {
      this.algorithms = ['RS256', 'ES256'];
      this.key = Promise.resolve(
        createRemoteJWKSet(new URL(config.jwks.url), {
          cooldownDuration: config.jwks.cooldownMs,
          cacheMaxAge: config.jwks.cacheMs,
          timeoutDuration: JWKS_TIMEOUT_MS,
        }),
      );
    } else if (config.publicKey) {
      this.algorithms = [config.publicKey.algorithm];
      this.key = importSPKI(config.publicKey.pem, config.publicKey.algorithm);
    } else {
      this.algorithms = ['HS256'];
      this.key = Promise.resolve(new TextEncoder().encode(config.secret ?? ''));
    }
    // Surfaced on first use; never an unhandled rejection.
    this.key.catch(() => undefined);
  }

  /** Verified tokens held by the cache (`gateway_internal_objects`). */
  get cachedTokens(): number {
    return this.cache.size;
  }

  async verify(token: unknown): Promise<Principal> {
    if (typeof token !== 'string' || token.length === 0) throw unauthorized('a token is required');
    if (token.length > MAX_TOKEN_LENGTH) throw unauthorized('token too long');
    const cached = this.cache.get(token);
    if (cached) return cached;
    let claims: JWTPayload;
    try {
      const key = await this.key;
      const options = {
        algorithms: this.algorithms,
        clockTolerance: this.config.clockSkewSeconds,
        requiredClaims: ['exp', 'iat', 'sub'],
        ...(this.config.audience ? { audience: this.config.audience } : {}),
        ...(this.config.issuer ? { issuer: this.config.issuer } : {}),
      };
      const result =
        typeof key === 'function'
          ? await jwtVerify(token, key, options)
          : await jwtVerify(token, key, options);
      claims = result.payload;
    } catch (err) {
      throw verificationError(err);
    }
    // jose checks `iat` only with maxTokenAge. A token issued in the future
    // would also outlive a revocation of its user (which compares `iat`).
    if (
      typeof claims.iat === 'number' &&
      claims.iat * 1000 > Date.now() + this.config.clockSkewSeconds * 1000
    ) {
      throw unauthorized('token iat is in the future');
    }
    const principal = toPrincipal(claims);
    this.cache.set(token, principal);
    return { ...principal, revoked: NO_REVOCATIONS };
  }
}

function toPrincipal(claims: JWTPayload): Principal {
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
  const role: unknown = claims['role'];
  if (role !== undefined && role !== 'agent')
    throw unauthorized('role claim must be "agent" or absent');
  if (role === 'agent' && (projects === '*' || !isId(claims.sub))) {
    throw unauthorized('an agent token names its projects, and its sub is an agent id');
  }
  return {
    sub: claims.sub,
    projects,
    scopes: new Set(rawScope.split(' ').filter(Boolean)),
    ...(role === 'agent' ? { role } : {}),
    expiresAt: claims.exp * 1000,
    issuedAt: claims.iat * 1000,
    revoked: NO_REVOCATIONS,
  };
}

function verificationError(err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
  if (err instanceof errors.JWTExpired) return unauthorized('token expired');
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.reason === 'missing') return unauthorized(`token has no ${err.claim}`);
    if (err.claim === 'nbf') return unauthorized('token not yet valid');
    if (err.claim === 'aud') return unauthorized('token audience is not accepted');
    if (err.claim === 'iss') return unauthorized('token issuer is not accepted');
    if (err.claim === 'iat') return unauthorized('token iat is invalid');
    return unauthorized(`token has no valid ${err.claim}`);
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) {
    return unauthorized('token signature is invalid');
  }
  if (err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported) {
    return unauthorized('token algorithm is not accepted');
  }
  if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) {
    return unauthorized('token key (kid) is not known');
  }
  if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid) {
    return keysUnavailable();
  }
  if (err instanceof errors.JOSEError) return unauthorized('token is malformed');
  // A JWKS fetch that failed at the network level.
  if (
    err instanceof TypeError ||
    (err instanceof Error && /fetch|ECONN|network/i.test(err.message))
  ) {
    return keysUnavailable();
  }
  return unauthorized('token is invalid');
}

/** The JWKS could not be fetched: the token is not known to be bad, so retry (not UNAUTHORIZED). */
function keysUnavailable(): GatewayError {
  return new GatewayError(
    'UNAVAILABLE',
    'token keys cannot be fetched right now, retry',
    undefined,
    5,
  );
}

function unauthorized(message: string): GatewayError {
  return new GatewayError('UNAUTHORIZED', message);
}
