import { randomUUID } from 'node:crypto';
import type { Response } from 'express';
import type { Principal } from '../../delivery/auth/principal.js';
import type { EventEnvelope, Snapshot } from '../../core/envelope.js';
import { LOG_EVENT_TYPE } from '../../core/registry.js';
import type { StreamRef } from '../../core/event-store.port.js';
import type { BatchEncoder, OutgoingBatch } from '../../delivery/outgoing-batch.js';
import type { Session } from '../../delivery/sessions/sessions.js';
import type { Viewer } from '../../delivery/viewer.js';

/** Events as SSE frames: project events with `id:` (the browser's Last-Event-ID), log lines without. */
function sseFrames(events: readonly EventEnvelope[]): string {
  let frames = '';
  for (const event of events) {
    const data = JSON.stringify(event);
    frames +=
      event.type === LOG_EVENT_TYPE ? `data: ${data}\n\n` : `id: ${event.id}\ndata: ${data}\n\n`;
  }
  return frames;
}

/** A live batch's SSE text, made once for every stream of its group. */
const SSE_FRAMES: BatchEncoder<string> = { encode: (batch) => sseFrames(batch.events) };

/**
 * One Server-Sent Events response as a viewer connection. Project events are
 * frames with `id:` (so the browser's Last-Event-ID is always a project
 * stream id); log lines have none; everything else is a named event.
 * A live batch is encoded once for every stream of its group.
 */
export class SseStream implements Viewer, Session {
  readonly id = `sse:${randomUUID()}`;
  private closed = false;
  private opened = false;
  private heartbeat: NodeJS.Timeout | null = null;
  private readonly onClose: (() => void)[] = [];

  constructor(
    private readonly res: Response,
    readonly principal: Principal,
    readonly projectId: string,
    private readonly heartbeatMs: number,
  ) {
    res.req.on('close', () => this.finish());
    // The client may have gone while the request was being authenticated:
    // then no close event is coming, and the stream is over before it began.
    if (res.req.socket.destroyed || res.destroyed) this.finish();
  }

  /** Sends the response head; from here on the response is an event stream. */
  open(retryMs: number): void {
    // An event stream lives as long as the client wants it: no request timeout.
    this.res.req.setTimeout(0);
    this.res.setTimeout(0);
    this.res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    this.opened = true;
    this.writeChunk(`retry: ${retryMs}\n\n`);
    // Comments keep proxies from closing an idle stream and reveal dead peers.
    this.heartbeat = setInterval(() => this.writeChunk(': ping\n\n'), this.heartbeatMs);
  }

  whenClosed(listener: () => void): void {
    if (this.closed) listener();
    else this.onClose.push(listener);
  }

  isOpen(): boolean {
    return !this.closed;
  }

  event(name: string, data: unknown): void {
    this.writeChunk(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  send(events: readonly EventEnvelope[]): void {
    this.writeChunk(sseFrames(events));
  }

  write(batch: OutgoingBatch): void {
    this.writeChunk(batch.encoded(SSE_FRAMES));
  }

  bufferedBytes(): number {
    return this.res.writableLength;
  }

  resync(projectId: string, { position, snapshot }: Snapshot): void {
    this.event('resync', { projectId, position, snapshot });
  }

  lagged({ projectId, runId }: StreamRef, lastDeliveredId: string): void {
    this.event('lagged', { projectId, ...(runId !== undefined ? { runId } : {}), lastDeliveredId });
  }

  /** Ends the stream; the browser's EventSource reconnects by itself (with Last-Event-ID). */
  end(): void {
    if (this.closed) return;
    this.res.end();
    this.finish();
  }

  abort(): void {
    this.res.destroy();
    this.finish();
  }

  /** Its token expired: the last event says so (an EventSource reconnects, with a fresh ticket). */
  expire(): void {
    this.event('expired', { expiresAt: new Date(this.principal.expiresAt).toISOString() });
    this.end();
  }

  /** A stream carries one project: another project's revocation does not touch it. */
  revoked(projectId: string | null): void {
    if (projectId !== null && projectId !== this.projectId) return;
    this.event('revoked', { projectId: projectId ?? this.projectId });
    this.end();
  }

  notifyDraining(reconnectInMs: number): void {
    this.event('draining', { reconnectInMs });
  }

  close(): void {
    this.end();
  }

  /** Gives up before the stream opened (the request is answered with an error instead). */
  discard(): void {
    this.finish();
  }

  private writeChunk(chunk: string): void {
    if (this.opened && !this.closed && !this.res.writableEnded) this.res.write(chunk);
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    for (const listener of this.onClose.splice(0)) listener();
  }
}
