import type { Redis } from 'ioredis';
import { GatewayProcess } from './gateway-process.js';
import { RedisServer } from './redis-server.js';

/**
 * What most end-to-end files start with: a private redis-server, a client on
 * it, and N replicas sharing it under one key prefix.
 */
export class TestStack {
  private constructor(
    readonly redis: RedisServer,
    readonly client: Redis,
    readonly replicas: GatewayProcess[],
    readonly prefix: string,
    private readonly extraEnv: Record<string, string>,
  ) {}

  static async start(options: {
    replicas: number;
    prefix: string;
    env?: Record<string, string>;
  }): Promise<TestStack> {
    const redis = await RedisServer.start();
    const stack = new TestStack(redis, redis.client(), [], options.prefix, options.env ?? {});
    const started = await Promise.all(
      Array.from({ length: options.replicas }, () => GatewayProcess.start(stack.env())),
    );
    stack.replicas.push(...started);
    return stack;
  }

  /** The environment of this stack's replicas (plus `extra`), for starting more. */
  env(extra: Record<string, string> = {}): Record<string, string> {
    return {
      REDIS_URL: this.redis.url,
      REDIS_KEY_PREFIX: this.prefix,
      ...this.extraEnv,
      ...extra,
    };
  }

  /** Every id in a project's stream, oldest first: the truth viewers are compared with. */
  async streamIds(projectId: string): Promise<string[]> {
    return (await this.client.xrange(`${this.prefix}:{${projectId}}:events`, '-', '+')).map(
      ([id]) => id,
    );
  }

  async stop(): Promise<void> {
    this.client.disconnect();
    await Promise.all(this.replicas.map((r) => r.kill()));
    await this.redis.stop();
  }
}
