import { RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { GatewayError } from '../../core/errors.js';

export type LimitResult = { ok: true } | { ok: false; retryAfterSeconds: number };

export interface RateLimitOptions {
  handshakesPerMinute: number;
  publishPerSecond: number;
  readsPerSecond: number;
  commandsPerSecond: number;
}

/**
 * Makes one limiter of `points` per `duration` seconds for keys of one `kind`:
 * the store behind the limits (rate-limiter-flexible's memory or Redis
 * limiter, see adapters/).
 */
export type LimiterFactory = (
  kind: string,
  points: number,
  duration: number,
) => RateLimiterAbstract;

/**
 * Cluster-wide rate limits (rate-limiter-flexible on Redis; in memory in
 * embedded mode): handshakes per client address per minute, publish requests
 * per publishing token per second, snapshot and history reads per token per
 * second. When Redis cannot answer, each replica
 * falls back to the same limit in its own memory (rate-limiter-flexible's
 * insurance limiter) rather than letting everything through or nothing.
 */
export class RateLimits {
  private readonly handshakes: RateLimiterAbstract;
  private readonly publishes: RateLimiterAbstract;
  private readonly reads: RateLimiterAbstract;
  private readonly commands: RateLimiterAbstract;

  constructor(options: RateLimitOptions, make: LimiterFactory) {
    this.handshakes = make('handshake', options.handshakesPerMinute, 60);
    this.publishes = make('publish', options.publishPerSecond, 1);
    this.reads = make('read', options.readsPerSecond, 1);
    this.commands = make('command', options.commandsPerSecond, 1);
  }

  /** One handshake from `address` (a client IP). */
  handshake(address: string): Promise<LimitResult> {
    return consume(this.handshakes, address);
  }

  /** One publish request with the token identified by `tokenKey`. */
  publish(tokenKey: string): Promise<LimitResult> {
    return consume(this.publishes, tokenKey);
  }

  /** One snapshot or history read with the token identified by `tokenKey`. */
  read(tokenKey: string): Promise<LimitResult> {
    return consume(this.reads, tokenKey);
  }

  /** One command from user `sub`, across the cluster; RATE_LIMITED past the limit. */
  async requireCommand(sub: string): Promise<void> {
    const limit = await consume(this.commands, sub);
    if (!limit.ok) {
      throw new GatewayError(
        'RATE_LIMITED',
        'command rate limit exceeded',
        undefined,
        limit.retryAfterSeconds,
      );
    }
  }

  /**
   * One publish or read request of a token (its subject and issue time), across
   * the cluster; RATE_LIMITED with its Retry-After past the limit.
   */
  async requireToken(
    kind: 'publish' | 'read',
    token: { sub: string; issuedAt: number },
  ): Promise<void> {
    const key = `${token.sub}:${token.issuedAt}`;
    const limit = await (kind === 'publish' ? this.publish(key) : this.read(key));
    if (!limit.ok) {
      throw new GatewayError(
        'RATE_LIMITED',
        `${kind} rate limit exceeded`,
        undefined,
        limit.retryAfterSeconds,
      );
    }
  }
}

async function consume(limiter: RateLimiterAbstract, key: string): Promise<LimitResult> {
  try {
    await limiter.consume(key);
    return { ok: true };
  } catch (res) {
    if (res instanceof RateLimiterRes) {
      return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(res.msBeforeNext / 1000)) };
    }
    // Neither store answered: do not lock clients out over a limiter failure.
    return { ok: true };
  }
}
