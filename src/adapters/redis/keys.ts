/**
 * The Redis layout of the design doc. Every key and channel of a project
 * carries the project in a hash tag, so they share one Redis Cluster slot and
 * one Lua script can touch them all. The prefix (default `sb`) is configurable
 * so tests and tenants can share a Redis without colliding.
 */
export class RedisKeys {
  constructor(readonly prefix: string = 'sb') {}

  /** The project's capped stream (history). */
  events(projectId: string): string {
    return `${this.prefix}:{${projectId}}:events`;
  }

  /** Hash: entity key -> latest envelope JSON (the snapshot). */
  state(projectId: string): string {
    return `${this.prefix}:{${projectId}}:state`;
  }

  /** Set: the keys of `owner`'s entities that have not ended (an agent's unfinished commands). */
  open(projectId: string, owner: string): string {
    return `${this.prefix}:{${projectId}}:open:${owner}`;
  }

  /** Sorted set: entity key -> time it ended (ms); drives ageing out of the snapshot. */
  ended(projectId: string): string {
    return `${this.prefix}:{${projectId}}:ended`;
  }

  /** The project's live channel (SPUBLISH on Redis 7). */
  live(projectId: string): string {
    return `${this.prefix}:{${projectId}}:live`;
  }

  /** One run's log lines: capped and expiring. */
  logs(projectId: string, runId: string): string {
    return `${this.prefix}:{${projectId}}:logs:${runId}`;
  }

  /** One idempotent write's record (string, expiring): `record` is a hash of the writer and its key. */
  idempotency(projectId: string, record: string): string {
    return `${this.prefix}:{${projectId}}:idem:${record}`;
  }

  /** Hash: `*` or project id -> revocation time (ms) for one user. */
  revocations(userId: string): string {
    return `${this.prefix}:revoked:{${userId}}`;
  }

  /** Shard channel on which revocations reach every replica at once. */
  revocationChannel(): string {
    return `${this.prefix}:{revocations}`;
  }

  /** Sorted set: connection id -> lease expiry (ms) of one user's open connections. */
  connections(userId: string): string {
    return `${this.prefix}:conns:{${userId}}`;
  }

  /** Sorted set: presence lease -> expiry (ms) of every connected agent, held by its replica. */
  presenceLeases(): string {
    return `${this.prefix}:{agents}:presence`;
  }

  /** One SSE ticket (string, expiring): the grant it stands for. */
  sseTicket(ticket: string): string {
    return `${this.prefix}:sse-ticket:${ticket}`;
  }

  /** Key prefix of one kind of rate limit (rate-limiter-flexible adds the subject). */
  rateLimit(kind: string): string {
    return `${this.prefix}:rl:${kind}`;
  }

  /** The project id of a live channel name, or null when it is not one of ours. */
  projectOfLiveChannel(channel: string): string | null {
    const head = `${this.prefix}:{`;
    if (!channel.startsWith(head) || !channel.endsWith('}:live')) return null;
    return channel.slice(head.length, -'}:live'.length);
  }
}
