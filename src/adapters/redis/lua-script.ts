import { createHash } from 'node:crypto';
import type { Redis, Cluster } from 'ioredis';

/** A standalone Redis or a Redis Cluster client: everything the gateway sends works on both. */
export type RedisCommandClient = Redis | Cluster;

/** A Lua script run by EVALSHA, loaded with EVAL the first time a server lacks it. */
export class LuaScript {
  private readonly sha: string;

  constructor(private readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(
    client: RedisCommandClient,
    keys: string[],
    args: (string | number)[],
  ): Promise<unknown> {
    try {
      return await client.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (err instanceof Error && err.message.startsWith('NOSCRIPT')) {
        return client.eval(this.source, keys.length, ...keys, ...args);
      }
      throw err;
    }
  }
}
