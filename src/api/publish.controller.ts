import { Body, Controller, HttpCode, Inject, Param, Post, Req, UseGuards } from '@nestjs/common';
import { requireProject } from '../auth/access.js';
import { HttpAuthGuard, type AuthedRequest } from '../auth/http-auth.guard.js';
import { GatewayError } from '../common/errors.js';
import { TokenBucket } from '../common/token-bucket.js';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { EVENT_BUS, type EventBus } from '../events/event-bus.port.js';

const MAX_TRACKED_TOKENS = 10_000;

/** The HTTP publish API for other services (scope `events:publish`). */
@Controller('api/projects/:projectId/events')
@UseGuards(HttpAuthGuard)
export class PublishController {
  /** Per publishing token on this replica (cluster-wide limits: issue 4). */
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    @Inject(EVENT_BUS) private readonly bus: EventBus,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Post()
  @HttpCode(202)
  async publish(
    @Req() req: AuthedRequest,
    @Param('projectId') projectId: string,
    @Body() body: unknown,
  ): Promise<{ ids: string[] }> {
    requireProject(req.principal, projectId, 'events:publish');
    this.rateLimit(`${req.principal.sub}:${req.principal.issuedAt}`);
    if (body === undefined || body === null || typeof body !== 'object') {
      throw new GatewayError('INVALID_PAYLOAD', 'body must be an event object or an array of them');
    }
    const inputs = Array.isArray(body) ? (body as unknown[]) : [body];
    const stored = await this.bus.publishUnchecked(projectId, inputs, req.principal.sub);
    return { ids: stored.map((e) => e.id) };
  }

  private rateLimit(key: string): void {
    let bucket = this.buckets.get(key);
    if (!bucket) {
      if (this.buckets.size >= MAX_TRACKED_TOKENS) this.buckets.clear();
      bucket = new TokenBucket(this.config.limits.publishPerSecond);
      this.buckets.set(key, bucket);
    }
    if (!bucket.take()) {
      throw new GatewayError(
        'RATE_LIMITED',
        'publish rate limit exceeded',
        undefined,
        bucket.secondsUntilNext(),
      );
    }
  }
}
