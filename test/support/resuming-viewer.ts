import { io, type Socket } from 'socket.io-client';
import { compareStreamIds } from '../../src/protocol/stream-id.js';
import type { EventEnvelope } from '../../src/core/envelope.js';
import type { Ack } from './viewer.js';
import { Waiter } from './waiter.js';

export interface ResumingViewerOptions {
  /** The URL to (re)connect to: called on every attempt, like a load balancer picking a replica. */
  nextUrl: () => string;
  token: string;
  projectId: string;
  types?: string[];
  /** Also follow this run's log lines. */
  runId?: string;
}

/**
 * A dashboard as the protocol expects one to behave: it keeps the last id of
 * each stream, and after any disconnect (a replica killed, drained, or a
 * lagged drop) connects to the next replica URL and resubscribes with `since`.
 * It records everything, so a test can assert exactly-once, in-order delivery
 * and measure how long recovery took.
 */
export class ResumingViewer {
  /** Project events, in arrival order (a snapshot resync restarts nothing here: see `resyncs`). */
  readonly events: EventEnvelope[] = [];
  readonly logLines: EventEnvelope[] = [];
  lastId: string | null = null;
  lastLogId: string | null = null;
  snapshot: Record<string, EventEnvelope> = {};
  /** Times (ms) each successful resubscribe was acknowledged. */
  readonly resubscribedAt: number[] = [];
  readonly disconnectedAt: number[] = [];
  readonly drainingNotices: { at: number; reconnectInMs: number }[] = [];
  readonly failedResumes: Ack[] = [];
  readonly lagged: unknown[] = [];
  resyncs = 0;
  private socket: Socket | null = null;
  private stopped = false;
  private readonly waiter = new Waiter();

  private constructor(private readonly options: ResumingViewerOptions) {}

  static async start(options: ResumingViewerOptions): Promise<ResumingViewer> {
    const viewer = new ResumingViewer(options);
    await viewer.connect();
    return viewer;
  }

  get connected(): boolean {
    return this.socket?.connected ?? false;
  }

  /** Resolves once `predicate` holds; rejects after `timeoutMs`. */
  until(predicate: () => boolean, timeoutMs = 20_000, what = 'condition'): Promise<void> {
    return this.waiter.until(
      predicate,
      timeoutMs,
      () => `${what}; ${this.events.length} events, last ${this.lastId}`,
      250,
    );
  }

  /** The current socket.io-client socket (tests pause its TCP socket). */
  get socketIo(): Socket | null {
    return this.socket;
  }

  stop(): void {
    this.stopped = true;
    this.socket?.close();
  }

  private async connect(): Promise<void> {
    for (let attempt = 0; !this.stopped; attempt++) {
      try {
        await this.connectOnce(this.options.nextUrl());
        return;
      } catch {
        // A replica that is gone or draining: try the next one after a short pause.
        await new Promise((r) => setTimeout(r, Math.min(50 * 2 ** attempt, 500)));
      }
    }
  }

  private connectOnce(url: string): Promise<void> {
    const socket = io(url, {
      auth: { token: this.options.token },
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      timeout: 5000,
    });
    return new Promise<void>((resolve, reject) => {
      socket.once('connect_error', (err) => {
        socket.close();
        reject(err);
      });
      socket.once('connect', () => {
        this.socket = socket;
        this.wire(socket);
        this.resubscribe(socket).then(resolve, (err: unknown) => {
          socket.close();
          reject(err instanceof Error ? err : new Error(String(err)));
        });
      });
    });
  }

  private async resubscribe(socket: Socket): Promise<void> {
    const first = this.lastId === null && this.resubscribedAt.length === 0;
    const ack = (await socket.timeout(10_000).emitWithAck('subscribe', {
      projectId: this.options.projectId,
      ...(this.lastId !== null ? { since: this.lastId } : {}),
      ...(this.options.types ? { types: this.options.types } : {}),
    })) as Ack;
    if (!ack.ok) throw new Error(`subscribe failed: ${JSON.stringify(ack.error)}`);
    if (ack.snapshot) this.snapshot = { ...ack.snapshot };
    if (ack.resync || (!first && ack.snapshot)) this.failedResumes.push(ack);
    if (this.lastId === null) this.lastId = ack.position ?? null;
    if (this.options.runId) {
      const logAck = (await socket.timeout(10_000).emitWithAck('logs:subscribe', {
        projectId: this.options.projectId,
        runId: this.options.runId,
        ...(this.lastLogId !== null ? { since: this.lastLogId } : {}),
      })) as Ack;
      if (!logAck.ok) throw new Error(`logs:subscribe failed: ${JSON.stringify(logAck.error)}`);
      if (logAck.resync) this.failedResumes.push(logAck);
    }
    this.resubscribedAt.push(Date.now());
    this.waiter.notify();
  }

  private wire(socket: Socket): void {
    socket.on('events', (events: EventEnvelope[]) => {
      for (const event of events) {
        if (event.type === 'agent.run.log') {
          this.logLines.push(event);
          this.lastLogId = event.id;
        } else {
          this.events.push(event);
          this.lastId = event.id;
        }
      }
      this.waiter.notify();
    });
    socket.on(
      'subscription:resync',
      (payload: { position: string; snapshot: Record<string, EventEnvelope> }) => {
        this.resyncs++;
        this.snapshot = { ...payload.snapshot };
        this.lastId = payload.position;
        this.waiter.notify();
      },
    );
    socket.on('subscription:lagged', (payload: unknown) => {
      this.lagged.push(payload);
      this.waiter.notify();
    });
    socket.on('server:draining', ({ reconnectInMs }: { reconnectInMs: number }) => {
      this.drainingNotices.push({ at: Date.now(), reconnectInMs });
    });
    socket.on('disconnect', () => {
      this.disconnectedAt.push(Date.now());
      this.waiter.notify();
      if (this.stopped || this.socket !== socket) return;
      this.socket = null;
      void this.connect();
    });
  }
}

/** Asserts ids strictly increase (so: no duplicate, in order) and returns them. */
export function strictlyIncreasingIds(events: EventEnvelope[]): string[] {
  const ids = events.map((e) => e.id);
  for (let i = 1; i < ids.length; i++) {
    if (compareStreamIds(ids[i - 1], ids[i]) >= 0) {
      throw new Error(`ids out of order or duplicated at ${i}: ${ids[i - 1]} then ${ids[i]}`);
    }
  }
  return ids;
}
