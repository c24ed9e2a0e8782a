import type { ProjectFeed } from '../project-feed.js';
import { SseParser, type SseMessage } from '../sse-parser.js';
import {
  GatewayClientError,
  errorFromResponse,
  type EventEnvelope,
  type Snapshot,
} from '../types.js';
import type { Transport, TransportHost } from './transport.js';

interface Stream {
  controller: AbortController;
  feed: ProjectFeed;
}

/**
 * Server-Sent Events read with fetch (which, unlike EventSource, can send the
 * Authorization header and Last-Event-ID we choose): one stream per project.
 */
export class SseTransport implements Transport {
  readonly name = 'sse' as const;
  private readonly streams = new Map<string, Stream>();
  private stopped = false;
  /** The server said it is draining: the streams' end is expected. */
  private draining = false;

  constructor(
    private readonly host: TransportHost,
    private readonly timeoutMs: number,
  ) {}

  async start(): Promise<void> {
    await Promise.all(this.host.projects().map((feed) => this.open(feed)));
  }

  add(feed: ProjectFeed): void {
    void this.open(feed).catch(() => this.host.lost(this, 'stream failed'));
  }

  remove(projectId: string): void {
    this.streams.get(projectId)?.controller.abort();
    this.streams.delete(projectId);
  }

  refresh(): void {
    // Streams keep the token they opened with; reconnects use the new one.
  }

  stop(): void {
    this.stopped = true;
    for (const stream of this.streams.values()) stream.controller.abort();
    this.streams.clear();
  }

  private async open(feed: ProjectFeed): Promise<void> {
    const controller = new AbortController();
    this.streams.set(feed.projectId, { controller, feed });
    const token = await this.host.token();
    const query = feed.options.types
      ? `?types=${encodeURIComponent(feed.options.types.join(','))}`
      : '';
    const timeout = setTimeout(() => controller.abort(), this.timeoutMs);
    let res: Response;
    try {
      res = await this.host.fetch(
        `${this.host.baseUrl}/api/projects/${encodeURIComponent(feed.projectId)}/events${query}`,
        {
          headers: {
            accept: 'text/event-stream',
            authorization: `Bearer ${token}`,
            ...(feed.lastId !== null ? { 'last-event-id': feed.lastId } : {}),
          },
          signal: controller.signal,
        },
      );
    } catch (err) {
      clearTimeout(timeout);
      throw new GatewayClientError('UNAVAILABLE', `event stream failed: ${String(err)}`);
    }
    if (res.status !== 200 || !res.body) {
      clearTimeout(timeout);
      throw await errorFromResponse(res);
    }
    const reader = res.body.getReader();
    const parser = new SseParser();
    const decoder = new TextDecoder();
    await new Promise<void>((resolve, reject) => {
      let ready = false;
      const pump = async () => {
        try {
          for (;;) {
            const { done, value } = await reader.read();
            if (done) break;
            for (const message of parser.push(decoder.decode(value, { stream: true }))) {
              if (message.event === 'ready' && !ready) {
                ready = true;
                clearTimeout(timeout);
                resolve();
              }
              this.handle(feed, message);
            }
          }
        } catch {
          // aborted or reset
        }
        clearTimeout(timeout);
        if (!ready)
          reject(new GatewayClientError('UNAVAILABLE', 'event stream closed before ready'));
        else if (!this.stopped && this.streams.get(feed.projectId)?.controller === controller) {
          // After a drain notice the end is a move to another replica: no backoff.
          this.host.lost(this, 'stream ended', this.draining);
        }
      };
      void pump();
    });
  }

  private handle(feed: ProjectFeed, message: SseMessage): void {
    const data = JSON.parse(message.data) as Record<string, unknown>;
    switch (message.event) {
      case 'ready':
        if (data.snapshot) {
          feed.snapshot(data.snapshot as Snapshot, data.position as string, data.resync === true);
        } else feed.position(data.position as string);
        break;
      case 'message':
        feed.accept([data as unknown as EventEnvelope]);
        break;
      case 'resync':
        feed.snapshot(data.snapshot as Snapshot, data.position as string, true);
        break;
      case 'revoked':
        feed.error({ code: 'FORBIDDEN', message: 'access revoked' });
        break;
      case 'expired':
        this.host.refreshToken();
        break;
      case 'draining':
        this.draining = true;
        break;
      default:
        // lagged: the stream ends next and the client reconnects.
        break;
    }
  }
}
