import { Body, Controller, HttpCode, Inject, Param, Post, Req, UseGuards } from '@nestjs/common';
import { requireProject } from '../auth/access.js';
import { HttpAuthGuard, type AuthedRequest } from '../auth/http-auth.guard.js';
import { GatewayError } from '../common/errors.js';
import { EVENT_BUS, type EventBus } from '../events/event-bus.port.js';
import { RateLimits } from '../limits/rate-limits.js';

/** The HTTP publish API for other services (scope `events:publish`). */
@Controller('api/projects/:projectId/events')
@UseGuards(HttpAuthGuard)
export class PublishController {
  constructor(
    @Inject(EVENT_BUS) private readonly bus: EventBus,
    @Inject(RateLimits) private readonly rateLimits: RateLimits,
  ) {}

  @Post()
  @HttpCode(202)
  async publish(
    @Req() req: AuthedRequest,
    @Param('projectId') projectId: string,
    @Body() body: unknown,
  ): Promise<{ ids: string[] }> {
    requireProject(req.principal, projectId, 'events:publish');
    // Per publishing token (its subject and issue time), across the cluster.
    const limit = await this.rateLimits.publish(`${req.principal.sub}:${req.principal.issuedAt}`);
    if (!limit.ok) {
      throw new GatewayError(
        'RATE_LIMITED',
        'publish rate limit exceeded',
        undefined,
        limit.retryAfterSeconds,
      );
    }
    if (body === undefined || body === null || typeof body !== 'object') {
      throw new GatewayError('INVALID_PAYLOAD', 'body must be an event object or an array of them');
    }
    const inputs = Array.isArray(body) ? (body as unknown[]) : [body];
    const stored = await this.bus.publishUnchecked(projectId, inputs, req.principal.sub);
    return { ids: stored.map((e) => e.id) };
  }
}
