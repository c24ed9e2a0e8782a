import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { RedisCommandClient } from './lua-script.js';

export type RedisRole = 'command' | 'subscriber';

export interface RedisConnectionOptions {
  /** A standalone Redis (or a proxy in front of a Sentinel-managed primary). */
  url: string | null;
  /** Redis Cluster seed nodes; used instead of `url` when given. */
  clusterNodes?: { host: string; port: number }[] | null;
  /** Per-command time limit (ms): a paused Redis must fail calls, not hang them. Default 2000. */
  commandTimeoutMs?: number;
  /** PING interval on each connection (ms); three missed beats declare it dead. Default 1000. */
  heartbeatMs?: number;
  onError?: (role: RedisRole, error: Error) => void;
  /** 'down' when a connection closes or misses its heartbeat, 'ready' when it is usable again. */
  onStateChange?: (role: RedisRole, state: 'ready' | 'down') => void;
}

/** Beats a connection may miss before it is declared dead and reconnected. */
const MISSED_BEATS = 3;

interface Link {
  role: RedisRole;
  client: RedisCommandClient;
  healthy: boolean;
  /** When the unanswered PING was sent, or null. */
  pingSentAt: number | null;
}

/**
 * The gateway's own Redis connections (the Socket.IO adapter has its own pair):
 * `command` for scripts and reads, `subscriber` for live channels. Commands
 * fail at once while Redis is down (no offline queue), so publish can answer
 * 503 instead of piling work up in memory.
 *
 * A TCP connection to a paused or partitioned Redis looks alive for minutes,
 * so each connection carries a PING heartbeat: three missed beats mark it down
 * (readiness false, publishes refused at once) and force a reconnect, which
 * re-subscribes the live channels when Redis answers again.
 */
export class RedisConnections {
  readonly command: RedisCommandClient;
  readonly subscriber: RedisCommandClient;
  version = '';
  private readonly links: Link[] = [];
  private heartbeat: NodeJS.Timeout | null = null;

  constructor(private readonly options: RedisConnectionOptions) {
    const base: RedisOptions = {
      lazyConnect: true,
      enableOfflineQueue: false,
      commandTimeout: options.commandTimeoutMs ?? 2000,
      maxRetriesPerRequest: 1,
      // A reconnect after a killed connection must be quick (live channels are down meanwhile).
      retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 2000),
      // How long a closing connection may take to close before it is destroyed
      // (ioredis waits 2 s by default, holding the process open on shutdown
      // even when the connection was already gone).
      disconnectTimeout: 200,
    };
    // Commands issued in the same event-loop turn (publish requests arriving
    // together, their limit checks and appends) go out in one write: a syscall
    // per command was the largest single cost of the publish path.
    this.command = this.create('command', { ...base, enableAutoPipelining: true });
    // The subscriber needs its offline queue: ioredis re-subscribes through it after a reconnect.
    this.subscriber = this.create('subscriber', {
      ...base,
      enableOfflineQueue: true,
      commandTimeout: undefined,
    });
  }

  private create(role: RedisRole, options: RedisOptions): RedisCommandClient {
    const nodes = this.options.clusterNodes;
    let client: RedisCommandClient;
    if (nodes && nodes.length > 0) {
      const {
        enableOfflineQueue,
        retryStrategy,
        lazyConnect,
        enableAutoPipelining,
        ...redisOptions
      } = options;
      const clusterOptions: ClusterOptions = {
        lazyConnect,
        enableOfflineQueue,
        enableAutoPipelining,
        clusterRetryStrategy: retryStrategy,
        redisOptions,
        // SSUBSCRIBE needs a subscriber per shard: each project's channel lives on its slot's master.
        shardedSubscribers: role === 'subscriber',
      };
      client = new Cluster(nodes, clusterOptions);
    } else {
      client = new Redis(this.options.url ?? 'redis://127.0.0.1:6379', options);
    }
    const link: Link = { role, client, healthy: false, pingSentAt: null };
    this.links.push(link);
    client.on('error', (err: Error) => this.options.onError?.(role, err));
    client.on('ready', () => {
      link.pingSentAt = null;
      this.setHealthy(link, true);
    });
    client.on('close', () => this.setHealthy(link, false));
    return client;
  }

  /**
   * Connects both and checks the server version. Redis 7 is required (stream
   * max-deleted-entry-id, sharded pub/sub), so every caller can use SPUBLISH /
   * SSUBSCRIBE without a fallback.
   */
  async connect(): Promise<void> {
    await Promise.all([this.command.connect(), this.subscriber.connect()]);
    const info = await this.command.info('server');
    this.version = /redis_version:(\S+)/.exec(info)?.[1] ?? '0';
    const major = Number(this.version.split('.')[0]);
    if (major < 7) {
      throw new Error(
        `Redis ${this.version} is too old: streams need max-deleted-entry-id (Redis 7.0 or later)`,
      );
    }
    const every = this.options.heartbeatMs ?? 1000;
    this.heartbeat = setInterval(() => this.links.forEach((l) => this.beat(l, every)), every);
    this.heartbeat.unref();
  }

  /** Both connections are connected and answering their heartbeat. */
  isReady(): boolean {
    return this.links.every((l) => l.healthy && l.client.status === 'ready');
  }

  /** The command connection can take a write right now. */
  commandUsable(): boolean {
    const link = this.links[0];
    return link.healthy && link.client.status === 'ready';
  }

  async close(): Promise<void> {
    if (this.heartbeat) clearInterval(this.heartbeat);
    await Promise.allSettled([this.command.quit(), this.subscriber.quit()]);
    // Only what did not quit cleanly: on a connection already closed,
    // ioredis's disconnect() starts a 2 s timer waiting for a close event that
    // has come and gone, which holds the process (or a test worker) open.
    for (const client of [this.command, this.subscriber]) {
      if (client.status !== 'end') client.disconnect();
    }
  }

  private beat(link: Link, every: number): void {
    if (link.client.status !== 'ready') return;
    const now = Date.now();
    if (link.pingSentAt !== null) {
      const silentMs = now - link.pingSentAt;
      if (silentMs < every * MISSED_BEATS) return;
      // Silent connection: declare it dead and let ioredis reconnect (and re-subscribe).
      link.pingSentAt = null;
      this.setHealthy(link, false);
      this.options.onError?.(link.role, new Error(`no PING reply for ${silentMs} ms`));
      link.client.disconnect(true);
      return;
    }
    link.pingSentAt = now;
    link.client.ping().then(
      () => {
        link.pingSentAt = null;
        this.setHealthy(link, true);
      },
      // A failed PING (timeout, closed) is judged by the next beat or the close event.
      () => undefined,
    );
  }

  private setHealthy(link: Link, healthy: boolean): void {
    if (link.healthy === healthy) return;
    link.healthy = healthy;
    this.options.onStateChange?.(link.role, healthy ? 'ready' : 'down');
  }
}
