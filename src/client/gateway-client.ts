import { fullJitterDelay } from './backoff.js';
import { LogFeed, ProjectFeed } from './project-feed.js';
import { TokenSource } from './token-source.js';
import { PollingTransport } from './transports/polling.js';
import { SseTransport } from './transports/sse.js';
import type { Transport, TransportHost } from './transports/transport.js';
import { WebSocketTransport } from './transports/websocket.js';
import { OutgoingQueue } from './outgoing-queue.js';
import { postWrite, randomKey, type OutgoingWrite, type PublishEvent } from './http-writes.js';

export type { PublishEvent };
import type { CommandPayloads, CommandType } from '../core/commands.js';
import type { HistoryPage } from '../protocol/http.js';
import type { Reply } from '../protocol/socket-events.js';
import {
  errorFromResponse,
  GatewayClientError,
  type PublishOptions,
  type PublishResult,
  type EventEnvelope,
  type ClientOptions,
  type ConnectionState,
  type SubscribeOptions,
  type TransportName,
} from './types.js';

/** Hears each state change; `error` says why when the state is `offline` after a refusal. */
type StateListener = (
  state: ConnectionState,
  transport: TransportName | null,
  error: { code: string; message: string } | null,
) => void;

/**
 * The gateway client for browsers and Node. It keeps every subscribed
 * project's last id and resubscribes with `since` after each reconnect, drops
 * duplicates by id, and batches updates to the application. It reconnects with
 * exponential backoff and full jitter, moves off a draining replica when told,
 * falls back from WebSocket to SSE to polling when a way is blocked, and
 * probes its way back up.
 */
export class GatewayClient {
  private readonly urls: string[];
  private urlIndex = 0;
  private readonly feeds = new Map<string, ProjectFeed>();
  private readonly logFeeds = new Map<string, LogFeed>();
  private readonly listeners = new Set<StateListener>();
  private readonly tokens: TokenSource;
  private readonly preferred: TransportName[];
  private readonly batch: 'frame' | number;
  private current: Transport | null = null;
  private currentState: ConnectionState = 'connecting';
  private attempt = 0;
  private closed = false;
  private everLive = false;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private probeTimer: ReturnType<typeof setInterval> | null = null;
  private connecting = false;

  constructor(private readonly options: ClientOptions) {
    this.urls = (Array.isArray(options.url) ? options.url : [options.url]).map((u) =>
      u.replace(/\/$/, ''),
    );
    this.preferred = options.transports ?? ['websocket', 'sse', 'polling'];
    this.batch =
      options.batch ??
      (typeof (globalThis as { requestAnimationFrame?: unknown }).requestAnimationFrame ===
      'function'
        ? 'frame'
        : 100);
    this.tokens = new TokenSource(options.token, options.refreshBeforeMs ?? 60_000, (token) =>
      this.current?.refresh(token),
    );
    this.outgoing = new OutgoingQueue({
      send: (write) => this.sendWrite(write),
      maxQueued: options.maxQueuedWrites ?? 1000,
      ttlMs: options.writeTtlMs ?? 300_000,
      initialBackoffMs: options.initialBackoffMs ?? 1000,
      maxBackoffMs: options.maxBackoffMs ?? 30_000,
    });
    this.schedule(0);
  }

  get state(): ConnectionState {
    return this.currentState;
  }

  get transport(): TransportName | null {
    return this.current?.name ?? null;
  }

  /** Hears every change of state or transport (and is called once at once). */
  onState(listener: StateListener): () => void {
    this.listeners.add(listener);
    listener(this.currentState, this.transport, this.error);
    return () => this.listeners.delete(listener);
  }

  subscribe(projectId: string, options: SubscribeOptions = {}): { unsubscribe(): void } {
    this.unsubscribe(projectId);
    const feed = new ProjectFeed(projectId, options, this.batch);
    this.feeds.set(projectId, feed);
    this.current?.add(feed);
    return { unsubscribe: () => this.unsubscribe(projectId) };
  }

  /**
   * One run's log lines, resumed by id like projects. Carried by the WebSocket
   * transport only; on SSE or polling the lines arrive once it is back up.
   */
  subscribeLogs(
    projectId: string,
    runId: string,
    onLines: (lines: EventEnvelope[]) => void,
  ): { unsubscribe(): void } {
    const key = `${projectId}/${runId}`;
    const feed = new LogFeed(projectId, runId, onLines, this.batch);
    this.logFeeds.set(key, feed);
    this.current?.addLog?.(feed);
    return {
      unsubscribe: () => {
        if (this.logFeeds.get(key) !== feed) return;
        this.logFeeds.delete(key);
        this.current?.removeLog?.(projectId, runId);
      },
    };
  }

  /**
   * Publishes events (one, or up to 100 all or nothing) through the HTTP
   * publish API, with a token that has `events:publish`. Writes are sent in
   * the order they were made; one the gateway cannot take now (network
   * down, 429, 5xx, no answer within `writeTimeoutMs`) waits in a bounded
   * queue and is retried with backoff, and at once when the connection is
   * back, under the same idempotency key, so it is published exactly once.
   * Rejects with the gateway's code (`INVALID_PAYLOAD`, `FORBIDDEN`,
   * `CONFLICT`...), or `QUEUE_FULL`, `EXPIRED` or `CLOSED`.
   */
  publish(
    projectId: string,
    events: PublishEvent | PublishEvent[],
    options: PublishOptions = {},
  ): Promise<PublishResult> {
    return this.outgoing.enqueue({
      projectId,
      body: events,
      key: options.idempotencyKey ?? randomKey(),
      ...(options.ifMatch !== undefined ? { ifMatch: options.ifMatch } : {}),
    });
  }

  /**
   * Asks an agent to act (the token needs `agents:command` for the project).
   * Resolves with the command's id once the gateway has it on the project's
   * stream; what happens next arrives as `command.*` events. The id is made
   * here, so a request retried after a lost answer counts once. Needs the
   * WebSocket transport (`UNAVAILABLE`, retriable, while on another).
   */
  async command<C extends CommandType>(
    projectId: string,
    agentId: string,
    command: C,
    args: CommandPayloads[C],
    options: { commandId?: string } = {},
  ): Promise<{ commandId: string }> {
    const commandId = options.commandId ?? randomKey();
    const reply = await this.socketRequest((t) =>
      t.command?.({ projectId, agentId, command, args: { ...args }, commandId }),
    );
    return { commandId: reply.commandId };
  }

  /** Aborts a command in flight (`command:interrupt`); the agent sees its signal aborted. */
  async interruptCommand(projectId: string, commandId: string): Promise<void> {
    await this.socketRequest((t) => t.interruptCommand?.({ projectId, commandId }));
  }

  private async socketRequest<T>(
    send: (transport: Transport) => Promise<Reply<T>> | undefined,
  ): Promise<{ ok: true } & T> {
    const pending = this.current ? send(this.current) : undefined;
    if (!pending) {
      throw new GatewayClientError(
        'UNAVAILABLE',
        this.current
          ? `commands need the WebSocket transport; connected over ${this.current.name}`
          : 'not connected',
        false,
        true,
      );
    }
    const reply = await pending.catch((err: unknown) => {
      throw err instanceof GatewayClientError
        ? err
        : new GatewayClientError('UNAVAILABLE', 'no answer from the gateway', false, true);
    });
    if (!reply.ok) {
      throw new GatewayClientError(
        reply.error.code,
        reply.error.message,
        false,
        reply.error.code === 'RATE_LIMITED' || reply.error.code === 'UNAVAILABLE',
      );
    }
    return reply;
  }

  /**
   * A page of the project's history (`GET .../events/history`): the latest
   * `limit` events (default 100, at most 1000), or those after `since`.
   */
  async history(
    projectId: string,
    options: { since?: string; limit?: number } = {},
  ): Promise<HistoryPage> {
    const query = new URLSearchParams();
    if (options.since) query.set('since', options.since);
    if (options.limit) query.set('limit', String(options.limit));
    const res = await fetch(
      `${this.currentUrl()}/api/projects/${encodeURIComponent(projectId)}/events/history?${query}`,
      { headers: { authorization: `Bearer ${await this.tokens.get()}` } },
    );
    if (!res.ok) throw await errorFromResponse(res);
    return (await res.json()) as HistoryPage;
  }

  /** Writes made with `publish` and not yet answered. */
  get queuedWrites(): number {
    return this.outgoing.size;
  }

  private readonly outgoing: OutgoingQueue<OutgoingWrite, PublishResult>;

  /** One attempt at a queued write. */
  private sendWrite(write: OutgoingWrite): Promise<PublishResult> {
    return postWrite(write, {
      baseUrl: this.currentUrl(),
      tokens: this.tokens,
      refreshable: typeof this.options.token !== 'string',
      timeoutMs: this.options.writeTimeoutMs ?? 10_000,
    });
  }

  /** The last id applied for a project (what a resume starts from). */
  lastId(projectId: string): string | null {
    return this.feeds.get(projectId)?.lastId ?? null;
  }

  close(): void {
    this.closed = true;
    this.outgoing.close();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.probeTimer) clearInterval(this.probeTimer);
    this.tokens.stop();
    this.current?.stop();
    this.current = null;
    this.setState('offline');
  }

  private unsubscribe(projectId: string): void {
    if (!this.feeds.delete(projectId)) return;
    this.current?.remove(projectId);
  }

  private host(baseUrl: string): TransportHost {
    return {
      baseUrl,
      token: () => this.tokens.get(),
      projects: () => [...this.feeds.values()],
      project: (projectId) => this.feeds.get(projectId),
      logs: () => [...this.logFeeds.values()],
      log: (projectId, runId) => this.logFeeds.get(`${projectId}/${runId}`),
      lost: (transport, _reason, immediately) => this.lost(transport, immediately === true),
      refreshToken: () => {
        this.tokens.fetch().then(
          (token) => this.current?.refresh(token),
          () => undefined,
        );
      },
      fetch: (input, init) => fetch(input, init),
      pollIntervalMs: this.options.pollIntervalMs ?? 2000,
    };
  }

  private create(name: TransportName, host: TransportHost): Transport {
    const timeout = this.options.connectTimeoutMs ?? 5000;
    if (name === 'websocket') return new WebSocketTransport(host, timeout);
    if (name === 'sse') return new SseTransport(host, timeout);
    return new PollingTransport(host);
  }

  /** Tries each transport in order on the next replica URL; backs off when none works. */
  private async connect(): Promise<void> {
    if (this.closed || this.connecting) return;
    this.connecting = true;
    const baseUrl = this.urls[this.urlIndex++ % this.urls.length];
    try {
      for (const name of this.preferred) {
        const transport = this.create(name, this.host(baseUrl));
        try {
          await transport.start();
        } catch (err) {
          transport.stop();
          if (err instanceof GatewayClientError && err.fatal) {
            // A refused token. A provider may have a new one (a rotated key, a
            // restarted server with a new secret): ask it, and try again at
            // once. The same token refused twice in a row ends it.
            const refused = this.tokens.peek();
            if (typeof this.options.token === 'function' && refused !== this.lastRefused) {
              this.lastRefused = refused;
              this.tokens.invalidate();
              this.setState(this.everLive ? 'reconnecting' : 'connecting');
              this.schedule(0);
              return;
            }
            return this.fail(err);
          }
          continue;
        }
        if (this.closed) return transport.stop();
        this.current = transport;
        this.attempt = 0;
        this.lastRefused = null;
        this.error = null;
        this.everLive = true;
        this.setState('live');
        this.watchForUpgrade();
        return;
      }
      this.setState(this.everLive ? 'reconnecting' : 'connecting');
      this.schedule(
        fullJitterDelay(
          this.attempt++,
          this.options.initialBackoffMs ?? 1000,
          this.options.maxBackoffMs ?? 30_000,
        ),
      );
    } finally {
      this.connecting = false;
    }
  }

  private lost(transport: Transport, immediately: boolean): void {
    if (this.current !== transport || this.closed) return;
    transport.stop();
    this.current = null;
    this.setState('reconnecting');
    this.schedule(
      immediately
        ? 0
        : fullJitterDelay(
            this.attempt++,
            this.options.initialBackoffMs ?? 1000,
            this.options.maxBackoffMs ?? 30_000,
          ),
    );
  }

  private fail(err: GatewayClientError): void {
    this.error = { code: err.code, message: err.message };
    for (const feed of this.feeds.values()) feed.error({ code: err.code, message: err.message });
    this.close();
  }

  private schedule(delayMs: number): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.connect();
    }, delayMs);
  }

  /** On a fallback transport, try the preferred ones now and then; switch when one works. */
  private watchForUpgrade(): void {
    if (this.probeTimer) clearInterval(this.probeTimer);
    this.probeTimer = null;
    const rank = this.preferred.indexOf(this.current!.name);
    if (rank <= 0) return;
    this.probeTimer = setInterval(
      () => void this.probe(rank),
      this.options.upgradeProbeMs ?? 30_000,
    );
  }

  private async probe(rank: number): Promise<void> {
    if (this.closed || this.connecting || !this.current) return;
    const baseUrl = this.currentUrl();
    for (const name of this.preferred.slice(0, rank)) {
      const transport = this.create(name, this.host(baseUrl));
      try {
        await transport.start();
      } catch {
        transport.stop();
        continue;
      }
      if (this.closed || !this.current) return transport.stop();
      // Both ran for a moment: ids drop the overlap.
      const old = this.current;
      this.current = transport;
      old.stop();
      this.setState('live');
      this.watchForUpgrade();
      return;
    }
  }

  /** The URL connected to last (or being tried): where writes go too. */
  private currentUrl(): string {
    return this.urls[(this.urlIndex - 1 + this.urls.length) % this.urls.length];
  }

  private setState(state: ConnectionState): void {
    if (state === 'live') this.outgoing.wake();
    const transport = this.transport;
    if (state === this.currentState && this.lastNotified === transport) return;
    this.currentState = state;
    this.lastNotified = transport;
    for (const listener of this.listeners) listener(state, transport, this.error);
  }

  private lastNotified: TransportName | null = null;
  /** The last token refused, so that a provider handing out the same one again ends the retries. */
  private lastRefused: string | null = null;
  private error: { code: string; message: string } | null = null;

  /** Why the client went `offline` (a refused token, say); null while it has not. */
  get lastError(): { code: string; message: string } | null {
    return this.error;
  }
}
