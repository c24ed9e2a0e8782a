import type { RedisCommandClient as Redis } from './lua-script.js';
import type { RedisKeys } from './keys.js';
import { withRedis } from './redis-errors.js';
import type { Revocation, RevocationStore } from '../../delivery/sessions/revocation-store.port.js';

/**
 * Revocations in Redis: one hash per user (`*` or project id -> time), kept
 * for `ttlSeconds` after the last revocation of that user, and announced on a
 * shard channel that every replica listens to on its subscriber connection.
 */
export class RedisRevocationStore implements RevocationStore {
  private readonly listeners: ((revocation: Revocation) => void)[] = [];
  private readonly missedListeners: (() => void)[] = [];
  private readonly channel: string;

  constructor(
    private readonly command: Redis,
    private readonly subscriber: Redis,
    private readonly keys: RedisKeys,
    private readonly ttlSeconds: number,
    private readonly onBadMessage: (error: unknown) => void = () => undefined,
  ) {
    this.channel = keys.revocationChannel();
    subscriber.on('smessage', (channel: string, message: string) => {
      if (channel === this.channel) this.onMessage(message);
    });
    // The channel was down between `close` and `ready`: announcements may be lost.
    let connected = subscriber.status === 'ready';
    subscriber.on('close', () => (connected = false));
    subscriber.on('ready', () => {
      if (connected) return;
      connected = true;
      for (const listener of this.missedListeners) listener();
    });
  }

  /** Starts listening; call once at boot. */
  async listen(): Promise<void> {
    await withRedis(() => this.subscriber.ssubscribe(this.channel));
  }

  async record(revocation: Revocation): Promise<void> {
    const key = this.keys.revocations(revocation.userId);
    await withRedis(() =>
      this.command
        .multi()
        .hset(key, revocation.projectId ?? '*', String(revocation.at))
        .expire(key, this.ttlSeconds)
        .exec(),
    );
    await withRedis(() => this.command.spublish(this.channel, JSON.stringify(revocation)));
  }

  async lookup(userId: string): Promise<Map<string, number>> {
    const hash = await withRedis(() => this.command.hgetall(this.keys.revocations(userId)));
    return new Map(Object.entries(hash).map(([key, at]) => [key, Number(at)]));
  }

  onRevocation(listener: (revocation: Revocation) => void): void {
    this.listeners.push(listener);
  }

  onMissedAnnouncements(listener: () => void): void {
    this.missedListeners.push(listener);
  }

  private onMessage(message: string): void {
    let revocation: Revocation;
    try {
      revocation = JSON.parse(message) as Revocation;
    } catch (err) {
      this.onBadMessage(err);
      return;
    }
    for (const listener of this.listeners) listener(revocation);
  }
}
