import { Controller, Get, Header, Inject, Res } from '@nestjs/common';
import type { Response } from 'express';
import { REDIS_CONNECTIONS } from '../redis/redis.module.js';
import type { RedisConnections } from '../redis/redis-connections.js';
import { Lifecycle } from './lifecycle.js';
import { GatewayMetrics } from './metrics.js';

/** Liveness, readiness and Prometheus metrics; none of them needs a token. */
@Controller()
export class OpsController {
  constructor(
    @Inject(REDIS_CONNECTIONS) private readonly redis: RedisConnections | null,
    @Inject(GatewayMetrics) private readonly metrics: GatewayMetrics,
    @Inject(Lifecycle) private readonly lifecycle: Lifecycle,
  ) {}

  /** The process is alive. Never depends on Redis, so Redis trouble never restarts pods. */
  @Get('healthz')
  healthz(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /** Ready for traffic: Redis usable (or embedded) and not draining. */
  @Get('readyz')
  readyz(@Res() res: Response): void {
    const redis = this.redis ? (this.redis.isReady() ? 'ready' : 'down') : 'embedded';
    const ready = redis !== 'down' && !this.lifecycle.draining;
    res
      .status(ready ? 200 : 503)
      .json({ status: ready ? 'ready' : 'unready', redis, draining: this.lifecycle.draining });
  }

  @Get('metrics')
  @Header('Content-Type', 'text/plain; version=0.0.4')
  metricsText(): Promise<string> {
    return this.metrics.render();
  }
}
