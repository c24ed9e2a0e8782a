import { activeRuns, type ActiveRun } from '../../core/active-runs.js';
import { Controller, Get, Inject, Param, Query, Req, Res, UseGuards } from '@nestjs/common';
import type { Response } from 'express';
import { requireProject } from '../../delivery/auth/access.js';
import { HttpAuthGuard, type AuthedRequest } from './http-auth.guard.js';
import { GatewayError } from '../../core/errors.js';
import { STREAM_ID_PATTERN } from '../../core/ids.js';
import { EVENT_STORE, type EventStore } from '../../core/event-store.port.js';
import { RateLimits } from '../../delivery/sessions/rate-limits.js';

import type { HistoryPage } from '../../protocol/http.js';

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;

/**
 * Snapshot and history for pollers and for clients that start from state.
 * Reads are rate limited per token across the cluster, and concurrent
 * snapshot reads of one project share one store read: a snapshot of a large
 * project is the most expensive read there is.
 */
@Controller('api/projects/:projectId')
@UseGuards(HttpAuthGuard)
export class ProjectsController {
  /** Snapshot reads in flight on this replica, by project, as encoded JSON bytes (a cache of one promise, not state). */
  private readonly snapshotReads = new Map<string, Promise<Buffer>>();

  constructor(
    @Inject(EVENT_STORE) private readonly history: EventStore,
    @Inject(RateLimits) private readonly rateLimits: RateLimits,
  ) {}

  @Get('snapshot')
  async snapshot(
    @Req() req: AuthedRequest,
    @Res() res: Response,
    @Param('projectId') projectId: string,
  ): Promise<void> {
    requireProject(req.principal, projectId);
    await this.rateLimits.requireToken('read', req.principal);
    let read = this.snapshotReads.get(projectId);
    if (!read) {
      // Whoever asks while a read is in flight gets its answer, encoded once:
      // a snapshot is consistent with its own position, which is all a caller
      // resumes from.
      read = this.history
        .snapshot(projectId)
        .then((snapshot) => Buffer.from(JSON.stringify(snapshot)))
        .finally(() => this.snapshotReads.delete(projectId));
      this.snapshotReads.set(projectId, read);
    }
    const body = await read;
    // `end`, not `send`: Express would hash megabytes per response for an ETag nobody sends back.
    res.status(200).type('application/json').end(body);
  }

  /**
   * The runs in progress, `{ runs: [{ runId, agentId, taskId?, subtaskId?,
   * startedAt }] }`: read from the store's snapshot, so every replica answers
   * the same. Rate limited as a read.
   */
  @Get('active-runs')
  async activeRuns(
    @Req() req: AuthedRequest,
    @Param('projectId') projectId: string,
  ): Promise<{ runs: ActiveRun[] }> {
    requireProject(req.principal, projectId);
    await this.rateLimits.requireToken('read', req.principal);
    const { snapshot } = await this.history.snapshot(projectId);
    return { runs: activeRuns(snapshot) };
  }

  @Get('events/history')
  async read(
    @Req() req: AuthedRequest,
    @Param('projectId') projectId: string,
    @Query('since') since?: unknown,
    @Query('limit') limitParam?: unknown,
  ): Promise<HistoryPage> {
    requireProject(req.principal, projectId);
    const limit = parseLimit(limitParam);
    await this.rateLimits.requireToken('read', req.principal);
    if (since === undefined) {
      const latest = await this.history.readLatest({ projectId }, limit);
      return { events: latest.events, position: latest.lastId, hasMore: latest.hasMore };
    }
    if (typeof since !== 'string' || !STREAM_ID_PATTERN.test(since)) {
      throw new GatewayError('INVALID_PAYLOAD', 'since must be a stream id like 1732185600000-0', [
        { path: 'since', problem: 'must be a stream id' },
      ]);
    }
    const page = await this.history.readAfter({ projectId }, since, limit);
    if (!page.held) {
      throw new GatewayError('RESYNC', 'events after since are no longer held; fetch the snapshot');
    }
    return {
      events: page.events,
      position: page.events.at(-1)?.id ?? since,
      hasMore: page.hasMore,
    };
  }
}

function parseLimit(value: unknown): number {
  if (value === undefined) return DEFAULT_LIMIT;
  const n = typeof value === 'string' && /^\d{1,5}$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > MAX_LIMIT) {
    throw new GatewayError('INVALID_PAYLOAD', `limit must be an integer from 1 to ${MAX_LIMIT}`, [
      { path: 'limit', problem: `must be 1..${MAX_LIMIT}` },
    ]);
  }
  return n;
}
