import jwt from 'jsonwebtoken';
import type { AppConfig } from '../config/app-config.js';

/**
 * A development token for the demo page, signed with the configured (or
 * generated) HS256 secret. Only ever issued when DEMO=1 with a secret.
 */
export function signDevToken(
  config: AppConfig['jwt'],
  claims: { sub: string; projects: string[]; scope?: string },
  ttlSeconds = 12 * 3600,
): string | null {
  if (!config.secret) return null;
  return jwt.sign(claims, config.secret, {
    algorithm: 'HS256',
    expiresIn: ttlSeconds,
    ...(config.audience ? { audience: config.audience } : {}),
    ...(config.issuer ? { issuer: config.issuer } : {}),
  });
}
