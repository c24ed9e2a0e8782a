import { Inject, Injectable } from '@nestjs/common';
import type { Revocation } from '../../delivery/sessions/revocation-store.port.js';
import { RevocationService } from '../../delivery/sessions/revocation.service.js';
import { DeadlineWheel } from '../../core/support/deadline-wheel.js';
import { LOGGER, type JsonLogger } from '../../core/support/json-logger.js';
import { DrainService } from '../socketio/drain.service.js';
import { GatewayMetrics } from '../../core/support/metrics.js';
import type { SseStream } from './sse-stream.js';

/**
 * The open SSE streams of this replica, so they follow the same rules as
 * sockets: drained on SIGTERM, ended at token expiry, ended when their user or
 * project is revoked on any replica.
 */
@Injectable()
export class SseService {
  private readonly streams = new Set<SseStream>();
  /** Streams closing at their token's `exp`: one timer for all, as for sockets. */
  private readonly expiries = new DeadlineWheel<SseStream>((stream) => {
    stream.event('expired', { expiresAt: new Date(stream.principal.expiresAt).toISOString() });
    stream.end();
  });

  constructor(
    @Inject(RevocationService) private readonly revocations: RevocationService,
    @Inject(DrainService) drain: DrainService,
    @Inject(GatewayMetrics) private readonly metrics: GatewayMetrics,
    @Inject(LOGGER) private readonly logger: JsonLogger,
  ) {
    revocations.onRevoked((revocation) => this.revoke(revocation));
    revocations.onMissedAnnouncements(() => void this.recheckAll());
    drain.addSource(() =>
      [...this.streams].map((stream) => ({
        notifyDraining: (reconnectInMs) => stream.event('draining', { reconnectInMs }),
        close: () => stream.end(),
      })),
    );
    metrics.addCollector(() =>
      metrics.internalObjects.set({ kind: 'sse_streams' }, this.streams.size),
    );
  }

  get size(): number {
    return this.streams.size;
  }

  add(stream: SseStream): void {
    this.streams.add(stream);
    this.metrics.sseStreams.inc();
    const slot = this.expiries.add(stream, stream.principal.expiresAt);
    stream.whenClosed(() => {
      this.expiries.cancel(stream, slot);
      this.streams.delete(stream);
      this.metrics.sseStreams.dec();
    });
  }

  /** Announcements may have been missed: judge every live stream against the store again. */
  private async recheckAll(): Promise<void> {
    for (const stream of [...this.streams]) {
      const found = await this.revocations.recheck(stream.principal);
      if (found.kind === 'user') this.end(stream, stream.projectId);
      else if (found.kind === 'projects' && found.projects.includes(stream.projectId)) {
        this.end(stream, stream.projectId);
      }
    }
  }

  private end(stream: SseStream, projectId: string): void {
    this.logger.event('info', 'revoked: ending SSE stream', { stream: stream.id });
    stream.event('revoked', { projectId });
    stream.end();
  }

  private revoke(revocation: Revocation): void {
    for (const stream of this.streams) {
      if (!this.revocations.appliesTo(revocation, stream.principal)) continue;
      // A stream carries one project: another project's revocation does not touch it.
      if (revocation.projectId !== null && revocation.projectId !== stream.projectId) continue;
      this.end(stream, revocation.projectId ?? stream.projectId);
    }
  }
}
