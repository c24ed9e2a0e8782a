import { Redis, type RedisOptions } from 'ioredis';

export interface RedisConnectionOptions {
  url: string;
  /** Per-command time limit (ms): a paused Redis must fail calls, not hang them. Default 2000. */
  commandTimeoutMs?: number;
  onError?: (role: string, error: Error) => void;
  onStateChange?: (role: string, state: 'ready' | 'down') => void;
}

/**
 * The gateway's own Redis connections (the Socket.IO adapter has its own pair):
 * `command` for scripts and reads, `subscriber` for live channels. Commands
 * fail at once while Redis is down (no offline queue), so publish can answer
 * 503 instead of piling work up in memory.
 */
export class RedisConnections {
  readonly command: Redis;
  readonly subscriber: Redis;
  version = '';

  constructor(private readonly options: RedisConnectionOptions) {
    const base: RedisOptions = {
      lazyConnect: true,
      enableOfflineQueue: false,
      commandTimeout: options.commandTimeoutMs ?? 2000,
      maxRetriesPerRequest: 1,
      retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 2000),
    };
    this.command = this.create('command', base);
    // The subscriber needs its offline queue: ioredis re-subscribes through it after a reconnect.
    this.subscriber = this.create('subscriber', {
      ...base,
      enableOfflineQueue: true,
      commandTimeout: undefined,
    });
  }

  private create(role: string, options: RedisOptions): Redis {
    const client = new Redis(this.options.url, options);
    client.on('error', (err: Error) => this.options.onError?.(role, err));
    client.on('ready', () => this.options.onStateChange?.(role, 'ready'));
    client.on('close', () => this.options.onStateChange?.(role, 'down'));
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
  }

  isReady(): boolean {
    return this.command.status === 'ready' && this.subscriber.status === 'ready';
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.command.quit(), this.subscriber.quit()]);
    this.command.disconnect();
    this.subscriber.disconnect();
  }
}
