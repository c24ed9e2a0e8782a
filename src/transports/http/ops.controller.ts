import { Controller, Get, Header, Inject, Res } from '@nestjs/common';
import type { Response } from 'express';
import { Lifecycle, STORE_HEALTH, type StoreHealth } from '../../delivery/sessions/lifecycle.js';
import { GatewayMetrics } from '../../core/support/metrics.js';

/** Liveness, readiness and Prometheus metrics; none of them needs a token. */
@Controller()
export class OpsController {
  constructor(
    @Inject(STORE_HEALTH) private readonly stores: StoreHealth,
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
    const redis = this.stores.status();
    const ready = redis !== 'down' && !this.lifecycle.draining;
    res
      .status(ready ? 200 : 503)
      .json({ status: ready ? 'ready' : 'unready', redis, draining: this.lifecycle.draining });
  }

  /**
   * Heap and RSS after a full garbage collection, for leak checks and soak
   * runs. Only exists when the process was started with `node --expose-gc`
   * (a forced GC is too costly to offer on a normal deployment): 404 otherwise.
   */
  @Get('debug/heap')
  heap(@Res() res: Response): void {
    const gc = (globalThis as { gc?: () => void }).gc;
    if (typeof gc !== 'function') {
      res.status(404).json({
        error: { code: 'NOT_FOUND', message: 'start node with --expose-gc to enable /debug/heap' },
      });
      return;
    }
    gc();
    const { heapUsed, rss } = process.memoryUsage();
    res.json({ heapUsed, rss });
  }

  @Get('metrics')
  @Header('Content-Type', 'text/plain; version=0.0.4')
  metricsText(): Promise<string> {
    return this.metrics.render();
  }
}
