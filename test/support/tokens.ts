import jwt from 'jsonwebtoken';
import { randomBytes } from 'node:crypto';

/** Test-only signing material, generated per run: nothing secret lives in the repo. */
export const TEST_SECRET = randomBytes(32).toString('hex');
export const TEST_AUDIENCE = 'gateway-tests';
export const TEST_ISSUER = 'https://issuer.test';

export interface TokenOptions {
  sub?: string;
  projects?: string[];
  scope?: string;
  expiresIn?: number;
  audience?: string;
  issuer?: string;
  secret?: string;
  extra?: Record<string, unknown>;
}

export function token(options: TokenOptions = {}): string {
  return jwt.sign(
    {
      projects: options.projects ?? ['*'],
      ...(options.scope ? { scope: options.scope } : {}),
      ...options.extra,
    },
    options.secret ?? TEST_SECRET,
    {
      algorithm: 'HS256',
      subject: options.sub ?? 'user-1',
      expiresIn: options.expiresIn ?? 3600,
      audience: options.audience ?? TEST_AUDIENCE,
      issuer: options.issuer ?? TEST_ISSUER,
    },
  );
}

export const serviceToken = (projects: string[] = ['*']) =>
  token({ sub: 'svc-tests', projects, scope: 'events:publish' });
