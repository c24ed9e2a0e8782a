import { Inject, Injectable } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { requireProject } from '../../delivery/auth/access.js';
import { Authenticator } from '../../delivery/auth/authenticator.js';
import { bearerToken } from './http-auth.guard.js';
import { GatewayError } from '../../core/errors.js';
import { LOGGER, type JsonLogger } from '../../core/support/json-logger.js';
import { APP_CONFIG, type AppConfig } from '../../config/app-config.js';
import { EventPublisher } from '../../core/publisher.js';
import { RateLimits } from '../../delivery/sessions/rate-limits.js';
import { toGatewayError } from './http-exception.filter.js';
import type { FrontRoute } from './front-door.js';
import { readJsonBody } from './json-body.js';
import { writeConditions } from './write-headers.js';
import type { WriteOutcome } from '../../core/idempotency.js';

/** `/api/projects/:projectId/events`, optionally with a trailing slash or a query. */
const ROUTE = /^\/api\/projects\/([^/?#]+)\/events\/?(?:[?#]|$)/i;

/**
 * The HTTP publish API for other services (`POST
 * /api/projects/:projectId/events`, scope `events:publish`), served off Node's
 * HTTP server ahead of Express and Nest's router (a route of the `FrontDoor`).
 *
 * Why not a controller: it is the one route taken at thousands of requests a
 * second, and there the framework pipeline (router, body-parser, CORS and
 * helmet middleware, guard, filters) cost about twice what the publish itself
 * does (see docs/performance.md). Everything else about it is as before: the
 * same authenticator, project access, cluster-wide rate limit, publisher,
 * coded error body, security headers (the front door applies helmet's) and CORS
 * answer for allowed origins (preflights still go to Express).
 */
@Injectable()
export class PublishEndpoint {
  private readonly allowedOrigins: ReadonlySet<string>;

  constructor(
    @Inject(Authenticator) private readonly auth: Authenticator,
    @Inject(EventPublisher) private readonly bus: EventPublisher,
    @Inject(RateLimits) private readonly rateLimits: RateLimits,
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(LOGGER) private readonly logger: JsonLogger,
  ) {
    this.allowedOrigins = new Set(config.corsOrigins);
    this.idempotencyTtlMs = config.idempotencyTtlSeconds * 1000;
  }

  private readonly idempotencyTtlMs: number;

  /** This route as a route of the `FrontDoor`: POSTs to the events URL, nothing else. */
  readonly route: FrontRoute = {
    request: (req: IncomingMessage, res: ServerResponse) => {
      const match = req.method === 'POST' ? ROUTE.exec(req.url ?? '') : null;
      if (!match) return false;
      void this.serve(req, res, match[1]);
      return true;
    },
  };

  private async serve(req: IncomingMessage, res: ServerResponse, rawProjectId: string) {
    this.allowOrigin(req, res);
    try {
      const outcome = await this.publish(req, decodeProjectId(rawProjectId));
      if (outcome.replayed) res.setHeader('Idempotent-Replayed', 'true');
      send(res, 202, { ids: outcome.ids });
    } catch (err) {
      const error = toGatewayError(err);
      if (error.code === 'INTERNAL') this.logger.event('error', 'publish failed', { error: err });
      if (error.retryAfterSeconds !== undefined) {
        res.setHeader('Retry-After', String(error.retryAfterSeconds));
      }
      // Refused before its body was read: the rest of it stands between this
      // keep-alive connection and its next request.
      if (!req.complete) discardRestOfBody(req);
      send(res, error.httpStatus, { error: error.toBody() });
    }
  }

  private async publish(
    req: IncomingMessage,
    projectId: string,
  ): Promise<WriteOutcome<Record<string, never>>> {
    const principal = await this.auth.authenticate(bearerToken(req.headers.authorization));
    requireProject(principal, projectId, 'events:publish');
    await this.rateLimits.requireToken('publish', principal);
    const body = await readJsonBody(req);
    if (body === null || typeof body !== 'object') {
      throw new GatewayError(
        'INVALID_PAYLOAD',
        'body must be an event object or an array of them',
        [{ path: '(root)', problem: 'must be an object or an array of objects' }],
      );
    }
    const inputs = Array.isArray(body) ? (body as unknown[]) : [body];
    // The project is the URL's; a body that names one (even the same) is refused, not merged.
    const named = inputs.flatMap((input, i) =>
      input !== null && typeof input === 'object' && Object.hasOwn(input, 'projectId')
        ? [
            {
              path: Array.isArray(body) ? `[${i}].projectId` : 'projectId',
              problem: 'unknown field',
            },
          ]
        : [],
    );
    if (named.length > 0) {
      throw new GatewayError(
        'INVALID_PAYLOAD',
        'the project is given in the URL, not the body',
        named,
      );
    }
    const { expectedVersion, idempotency } = writeConditions(req.headers, principal.sub, {
      method: 'POST',
      path: `/api/projects/${projectId}/events`,
      body,
    });
    return this.bus.publishRequest(projectId, inputs, principal.sub, {
      expectedVersion,
      claim: idempotency && { ...idempotency, answer: '{}', ttlMs: this.idempotencyTtlMs },
    });
  }

  /** What the `cors` middleware answers for an allowed origin on a simple request. */
  private allowOrigin(req: IncomingMessage, res: ServerResponse): void {
    res.setHeader('Vary', 'Origin');
    const origin = req.headers.origin;
    if (origin !== undefined && this.allowedOrigins.has(origin)) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Expose-Headers', 'ETag, Idempotent-Replayed, Retry-After');
    }
  }
}

/**
 * What is left of a refused request's body is read and dropped up to this many
 * bytes (a few bodies' worth: a client refused for a body slightly over the
 * limit still reads its 413)...
 */
const DISCARD_MAX_BYTES = 8 * 1024 * 1024;
/** ...and for this long, ms; past either, the connection is closed. */
const DISCARD_MAX_MS = 2000;

/**
 * Reads and drops the rest of a refused request's body, so a client that
 * goes on sending it gets the answer and keeps its connection (closing at
 * once would break its upload with EPIPE before it reads the answer). A body
 * that does not end within the bounds (a client that announced more than it
 * sends, or one that sends without end) gets its connection closed instead,
 * so the next request never waits behind it.
 */
function discardRestOfBody(req: IncomingMessage): void {
  const socket = req.socket;
  let dropped = 0;
  const close = () => {
    clearTimeout(timer);
    socket.destroy();
  };
  const timer = setTimeout(close, DISCARD_MAX_MS);
  req.unpipe();
  req.on('data', (chunk: Buffer) => {
    dropped += chunk.length;
    if (dropped > DISCARD_MAX_BYTES) close();
  });
  req.once('end', () => clearTimeout(timer));
  socket.once('close', () => clearTimeout(timer));
  req.resume();
}

/** Express decoded route params; an undecodable one fails the id check instead. */
function decodeProjectId(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'X-Content-Type-Options': 'nosniff',
    'Cache-Control': 'no-store',
  });
  res.end(text);
}
