import { Inject, Injectable } from '@nestjs/common';
import { GatewayMetrics } from '../../core/support/metrics.js';
import { Sessions } from '../../delivery/sessions/sessions.js';
import type { SseStream } from './sse-stream.js';

/**
 * The open SSE streams of this replica. Each is a session: drained on
 * SIGTERM, ended at token expiry and when its user or project is revoked on
 * any replica, by the same `Sessions` as sockets.
 */
@Injectable()
export class SseService {
  private readonly streams = new Set<SseStream>();

  constructor(
    @Inject(Sessions) private readonly sessions: Sessions,
    @Inject(GatewayMetrics) private readonly metrics: GatewayMetrics,
  ) {
    metrics.countInternal(() => ({ sse_streams: this.streams.size }));
  }

  get size(): number {
    return this.streams.size;
  }

  add(stream: SseStream): void {
    this.streams.add(stream);
    this.metrics.sseStreams.inc();
    this.sessions.open(stream);
    stream.whenClosed(() => {
      this.sessions.close(stream);
      this.streams.delete(stream);
      this.metrics.sseStreams.dec();
    });
  }
}
