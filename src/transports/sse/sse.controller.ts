import { randomBytes } from 'node:crypto';
import {
  Body,
  Controller,
  Get,
  HttpCode,
  Inject,
  Param,
  Post,
  Req,
  Res,
  UseGuards,
} from '@nestjs/common';
import type { Request, Response } from 'express';
import { requireProject } from '../../delivery/auth/access.js';
import { Authenticator } from '../../delivery/auth/authenticator.js';
import { HttpAuthGuard, bearerToken, type AuthedRequest } from '../http/http-auth.guard.js';
import { NO_REVOCATIONS, type Principal } from '../../delivery/auth/principal.js';
import { RevocationService } from '../../delivery/sessions/revocation.service.js';
import { GatewayError } from '../../core/errors.js';
import { ID_PATTERN, STREAM_ID_PATTERN, isId } from '../../core/ids.js';
import { validateDto } from '../../core/support/validate-dto.js';
import { APP_CONFIG, type AppConfig } from '../../config/app-config.js';
import { isValidPattern } from '../../core/pattern.js';
import { SubscriptionService } from '../../delivery/subscription.service.js';
import { ConnectionLeases } from '../../delivery/sessions/connection-leases.service.js';
import { Lifecycle } from '../../delivery/sessions/lifecycle.js';
import { SseTicketDto } from './sse.dto.js';
import { SseService } from './sse.service.js';
import { SseStream } from './sse-stream.js';
import {
  SSE_TICKET_STORE,
  type SseTicketStore,
  type TicketGrant,
} from '../../delivery/sessions/ticket-store.port.js';

/** Tickets live this long, and are good for one stream. */
const TICKET_TTL_MS = 30_000;
/** What `EventSource` waits before reconnecting after the stream ends. */
const RETRY_MS = 1000;
const MAX_RUNS = 20;
const TICKET_PATTERN = /^[A-Za-z0-9_-]{20,100}$/;

/**
 * Server-Sent Events: the same project stream as `subscribe` (resume with
 * Last-Event-ID, `types` filter, run log lines with `runs`), the same tokens
 * (an Authorization header, or a single-use ticket for EventSource), the same
 * limits, revocation and drain as sockets.
 */
@Controller('api')
export class SseController {
  constructor(
    @Inject(Authenticator) private readonly auth: Authenticator,
    @Inject(RevocationService) private readonly revocations: RevocationService,
    @Inject(SubscriptionService) private readonly subscriptions: SubscriptionService,
    @Inject(ConnectionLeases) private readonly leases: ConnectionLeases,
    @Inject(SseService) private readonly streams: SseService,
    @Inject(SSE_TICKET_STORE) private readonly tickets: SseTicketStore,
    @Inject(Lifecycle) private readonly lifecycle: Lifecycle,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** A ticket for one stream of one project, bound to the caller; valid 30 s, single use. */
  @Post('sse-tickets')
  @HttpCode(201)
  @UseGuards(HttpAuthGuard)
  async ticket(
    @Req() req: AuthedRequest,
    @Body() body: unknown,
  ): Promise<{ ticket: string; expiresAt: string }> {
    const { projectId } = validateDto(SseTicketDto, body, 'body');
    requireProject(req.principal, projectId);
    const ticket = randomBytes(32).toString('base64url');
    const p = req.principal;
    const grant: TicketGrant = {
      sub: p.sub,
      projectId,
      projects: p.projects === '*' ? '*' : [...p.projects],
      scopes: [...p.scopes],
      expiresAt: p.expiresAt,
      issuedAt: p.issuedAt,
    };
    // A ticket never outlives the token that minted it.
    const expiresAt = Math.min(Date.now() + TICKET_TTL_MS, p.expiresAt);
    const ttlMs = expiresAt - Date.now();
    if (ttlMs <= 0) throw new GatewayError('UNAUTHORIZED', 'token expired');
    await this.tickets.save(ticket, grant, ttlMs);
    return { ticket, expiresAt: new Date(expiresAt).toISOString() };
  }

  @Get('projects/:projectId/events')
  async stream(
    @Req() req: Request,
    @Res() res: Response,
    @Param('projectId') projectId: string,
  ): Promise<void> {
    if (this.lifecycle.draining) {
      throw new GatewayError(
        'UNAVAILABLE',
        'this replica is draining; connect to another one',
        undefined,
        1,
      );
    }
    const query = parseQuery(req);
    const principal = await this.principalOf(req, query.ticket, projectId);
    requireProject(principal, projectId);
    const leaseId = await this.leases.take(principal.sub);
    const stream = new SseStream(res, principal, projectId, this.config.sse.heartbeatMs);
    stream.whenClosed(() => {
      this.leases.release(leaseId);
      this.subscriptions.dropConnection(stream);
    });
    try {
      await this.subscriptions.subscribe(
        stream,
        {
          projectId,
          ...(query.since ? { since: query.since } : {}),
          ...(query.types ? { types: query.types } : {}),
        },
        ({ position, snapshot, activeRuns, resync }) => {
          stream.open(RETRY_MS);
          stream.event('ready', {
            position,
            ...(snapshot ? { snapshot, activeRuns } : {}),
            ...(resync ? { resync } : {}),
          });
        },
      );
    } catch (err) {
      if (!res.headersSent) {
        stream.discard();
        throw err;
      }
      stream.end();
      return;
    }
    this.streams.add(stream);
    if (query.runs === 'all') {
      await this.subscriptions.followRuns(stream, projectId).catch(() => stream.end());
      return;
    }
    for (const runId of query.runs) {
      await this.subscriptions
        .subscribeLogs(stream, { projectId, runId }, () => undefined)
        .catch(() => stream.end());
    }
  }

  private async principalOf(
    req: Request,
    ticket: string | undefined,
    projectId: string,
  ): Promise<Principal> {
    if (req.headers.authorization !== undefined) {
      return this.auth.authenticate(bearerToken(req.headers.authorization));
    }
    if (ticket === undefined) {
      throw new GatewayError(
        'UNAUTHORIZED',
        'an Authorization: Bearer token or a ticket is required',
      );
    }
    // A made-up ticket is refused like a spent one: the client needs a new ticket either way.
    const grant = TICKET_PATTERN.test(ticket) ? await this.tickets.take(ticket) : null;
    if (!grant || grant.expiresAt <= Date.now()) {
      throw new GatewayError('UNAUTHORIZED', 'ticket unknown, expired or already used');
    }
    if (grant.projectId !== projectId) {
      throw new GatewayError('UNAUTHORIZED', 'ticket was issued for another project');
    }
    return this.revocations.admit({
      sub: grant.sub,
      projects: grant.projects === '*' ? '*' : new Set(grant.projects),
      scopes: new Set(grant.scopes),
      expiresAt: grant.expiresAt,
      issuedAt: grant.issuedAt,
      revoked: NO_REVOCATIONS,
    });
  }
}

interface SseQuery {
  ticket?: string;
  since?: string;
  types?: string[];
  /** Runs whose log lines to follow, or `all`: every run of the project, new ones included. */
  runs: string[] | 'all';
}

/** Query and Last-Event-ID, validated: INVALID_PAYLOAD with every problem listed. */
function parseQuery(req: Request): SseQuery {
  const problems: { path: string; problem: string }[] = [];
  const single = (name: string): string | undefined => {
    const value = req.query[name];
    if (value === undefined) return undefined;
    if (typeof value !== 'string') {
      problems.push({ path: name, problem: 'must be given once' });
      return undefined;
    }
    return value;
  };
  const known = new Set(['ticket', 'types', 'runs', 'lastEventId']);
  for (const key of Object.keys(req.query)) {
    if (!known.has(key)) problems.push({ path: key, problem: 'unknown query parameter' });
  }
  const ticket = single('ticket');
  // EventSource sends Last-Event-ID as a header; polyfills may use the query.
  const header = req.headers['last-event-id'];
  const since = typeof header === 'string' && header !== '' ? header : single('lastEventId');
  if (since !== undefined && !STREAM_ID_PATTERN.test(since)) {
    problems.push({ path: 'Last-Event-ID', problem: 'must be a stream id like 1732185600000-0' });
  }
  const typesRaw = single('types');
  const types = typesRaw?.split(',').filter(Boolean);
  if (types && (types.length > 32 || !types.every(isValidPattern))) {
    problems.push({ path: 'types', problem: 'must be up to 32 event patterns such as agent.*' });
  }
  const runsRaw = single('runs');
  const runs = runsRaw === 'all' ? [] : (runsRaw?.split(',').filter(Boolean) ?? []);
  if (runs.length > MAX_RUNS || !runs.every(isId)) {
    problems.push({
      path: 'runs',
      problem: `must be up to ${MAX_RUNS} run ids matching ${ID_PATTERN.source}`,
    });
  }
  if (problems.length > 0)
    throw new GatewayError('INVALID_PAYLOAD', 'invalid stream request', problems);
  return {
    ...(ticket !== undefined ? { ticket } : {}),
    ...(since !== undefined ? { since } : {}),
    ...(types && types.length > 0 ? { types } : {}),
    runs: runsRaw === 'all' ? 'all' : [...new Set(runs)],
  };
}
