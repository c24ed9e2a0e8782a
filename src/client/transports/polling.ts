import type { ProjectFeed } from '../project-feed.js';
import { errorFromResponse, type EventEnvelope, type Snapshot } from '../types.js';
import type { Transport, TransportHost } from './transport.js';

/** The last way in: the history endpoint, asked every `pollIntervalMs` for what came after the last id. */
export class PollingTransport implements Transport {
  readonly name = 'polling' as const;
  private readonly loops = new Map<string, { stop: boolean }>();
  private stopped = false;

  constructor(private readonly host: TransportHost) {}

  async start(): Promise<void> {
    // One successful round for every project makes the transport live.
    await Promise.all(this.host.projects().map((feed) => this.round(feed)));
    for (const feed of this.host.projects()) this.loop(feed);
  }

  add(feed: ProjectFeed): void {
    this.round(feed).then(
      () => this.loop(feed),
      () => this.host.lost(this, 'poll failed'),
    );
  }

  remove(projectId: string): void {
    const loop = this.loops.get(projectId);
    if (loop) loop.stop = true;
    this.loops.delete(projectId);
  }

  refresh(): void {
    // Each request reads the current token.
  }

  stop(): void {
    this.stopped = true;
    for (const loop of this.loops.values()) loop.stop = true;
    this.loops.clear();
  }

  private loop(feed: ProjectFeed): void {
    const state = { stop: false };
    this.loops.set(feed.projectId, state);
    const tick = async () => {
      while (!state.stop && !this.stopped) {
        await new Promise((r) => setTimeout(r, this.host.pollIntervalMs));
        if (state.stop || this.stopped) return;
        try {
          await this.round(feed);
        } catch {
          if (!state.stop && !this.stopped) this.host.lost(this, 'poll failed');
          return;
        }
      }
    };
    void tick();
  }

  /** Snapshot when starting fresh (or after 410), then history pages until caught up. */
  private async round(feed: ProjectFeed): Promise<void> {
    if (feed.lastId === null) await this.snapshot(feed, false);
    for (;;) {
      const res = await this.get(feed, `/events/history?since=${feed.lastId}&limit=1000`);
      if (res.status === 410) {
        await this.snapshot(feed, true);
        continue;
      }
      const body = (await res.json()) as {
        events: EventEnvelope[];
        position: string;
        hasMore: boolean;
      };
      feed.accept(body.events);
      if (!body.hasMore) return;
    }
  }

  private async snapshot(feed: ProjectFeed, resync: boolean): Promise<void> {
    const res = await this.get(feed, '/snapshot');
    const body = (await res.json()) as { position: string; snapshot: Snapshot };
    feed.snapshot(body.snapshot, body.position, resync);
  }

  private async get(feed: ProjectFeed, path: string): Promise<Response> {
    const token = await this.host.token();
    const res = await this.host.fetch(
      `${this.host.baseUrl}/api/projects/${encodeURIComponent(feed.projectId)}${path}`,
      { headers: { authorization: `Bearer ${token}` } },
    );
    if (res.status === 200 || res.status === 410) return res;
    throw await errorFromResponse(res);
  }
}
