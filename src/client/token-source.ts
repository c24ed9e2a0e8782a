/** The `exp` of a JWT, in ms, read without verifying it (the server verifies); null if absent. */
export function tokenExpiry(token: string): number | null {
  const payload = token.split('.')[1];
  if (!payload) return null;
  try {
    const base64 = payload.replace(/-/g, '+').replace(/_/g, '/');
    const json =
      typeof atob === 'function' ? atob(base64) : Buffer.from(base64, 'base64').toString('utf8');
    const exp = (JSON.parse(json) as { exp?: unknown }).exp;
    return typeof exp === 'number' ? exp * 1000 : null;
  } catch {
    return null;
  }
}

/**
 * The client's token: fetched from the provider when needed and again
 * `refreshBeforeMs` before it expires; `onRefreshed` hears each new one.
 */
export class TokenSource {
  private current: string | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly provider: string | (() => string | Promise<string>),
    private readonly refreshBeforeMs: number,
    private readonly onRefreshed: (token: string) => void,
  ) {}

  async get(): Promise<string> {
    if (this.current !== null) return this.current;
    return this.fetch();
  }

  /** Forces a new token from the provider (after a refusal, or on `auth:expiring`). */
  async fetch(): Promise<string> {
    const token = typeof this.provider === 'string' ? this.provider : await this.provider();
    this.current = token;
    this.schedule(token);
    return token;
  }

  /** The token in hand, if any (without asking the provider). */
  peek(): string | null {
    return this.current;
  }

  /** Forgets the token in hand: the next `get()` asks the provider. */
  invalidate(): void {
    this.current = null;
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(token: string): void {
    this.stop();
    if (typeof this.provider === 'string') return;
    const exp = tokenExpiry(token);
    if (exp === null) return;
    const inMs = Math.max(1000, exp - this.refreshBeforeMs - Date.now());
    this.timer = setTimeout(() => {
      this.fetch().then(this.onRefreshed, () => undefined);
    }, inMs);
  }
}
