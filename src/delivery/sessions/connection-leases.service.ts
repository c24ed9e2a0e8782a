import { randomUUID } from 'node:crypto';
import { GatewayError } from '../../core/errors.js';
import type { JsonLogger } from '../../core/support/json-logger.js';
import type { AppConfig } from '../../config/app-config.js';
import { type ConnectionLease, type ConnectionLimiter } from './connection-limiter.port.js';

/**
 * This replica's side of the per-user connection cap: takes a slot for each
 * socket or SSE stream, gives it back when it closes, and renews every lease
 * it holds each third of the lease time. If the limiter cannot be reached,
 * connections are let in (a Redis outage must not lock users out) and the
 * lease is retried at the next renewal.
 */
export class ConnectionLeases {
  private readonly held = new Map<string, ConnectionLease>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly limiter: ConnectionLimiter,
    private readonly config: AppConfig,
    private readonly logger: JsonLogger,
  ) {
    this.timer = setInterval(
      () => void this.renew(),
      (config.limits.connectionLeaseSeconds * 1000) / 3,
    );
    this.timer.unref();
  }

  /** A lease id, or null when the user is at the cap. */
  async acquire(userId: string): Promise<string | null> {
    const lease = { userId, connectionId: randomUUID() };
    let taken = true;
    try {
      taken = await this.limiter.acquire(lease, this.config.limits.maxConnectionsPerUser);
    } catch (error) {
      this.logger.event('warn', 'connection cap unavailable; letting the connection in', {
        error,
      });
    }
    if (!taken) return null;
    this.held.set(lease.connectionId, lease);
    return lease.connectionId;
  }

  /** A lease id; TOO_MANY_CONNECTIONS when the user is at the cap (sockets and SSE alike). */
  async take(userId: string): Promise<string> {
    const leaseId = await this.acquire(userId);
    if (leaseId === null) {
      throw new GatewayError(
        'TOO_MANY_CONNECTIONS',
        'too many open connections for this user; close one first',
      );
    }
    return leaseId;
  }

  release(connectionId: string): void {
    const lease = this.held.get(connectionId);
    if (!lease) return;
    this.held.delete(connectionId);
    this.limiter.release(lease).catch((error: unknown) => {
      // It expires on its own within one lease time.
      this.logger.event('warn', 'connection slot release failed', { error });
    });
  }

  /** Leases held by this replica (leak checks). */
  get size(): number {
    return this.held.size;
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  private async renew(): Promise<void> {
    if (this.held.size === 0) return;
    try {
      await this.limiter.renew([...this.held.values()]);
    } catch (error) {
      this.logger.event('warn', 'connection slot renewal failed', { error });
    }
  }
}
