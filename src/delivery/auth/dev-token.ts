import { SignJWT } from 'jose';
import type { AppConfig } from '../../config/app-config.js';

/**
 * A development token for the demo page, signed with the configured (or
 * generated) HS256 secret. Only ever issued when DEMO=1 with a secret. Signed
 * with jose, the library that verifies tokens: one JWT library in the server.
 */
export async function signDevToken(
  config: AppConfig['jwt'],
  claims: { sub: string; projects: string[]; scope?: string; role?: 'agent' },
  ttlSeconds = 12 * 3600,
): Promise<string | null> {
  if (!config.secret) return null;
  let token = new SignJWT({
    projects: claims.projects,
    ...(claims.scope ? { scope: claims.scope } : {}),
    ...(claims.role ? { role: claims.role } : {}),
  })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(claims.sub)
    .setIssuedAt()
    .setExpirationTime(`${ttlSeconds}s`);
  if (config.audience) token = token.setAudience(config.audience);
  if (config.issuer) token = token.setIssuer(config.issuer);
  return token.sign(new TextEncoder().encode(config.secret));
}
