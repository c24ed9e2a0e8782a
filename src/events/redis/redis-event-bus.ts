import type { Redis } from 'ioredis';
import type { RedisKeys } from '../../redis/keys.js';
import { withRedis } from '../../redis/redis-errors.js';
import type { EventHistory } from '../../history/event-history.port.js';
import { BaseEventBus, type BusOptions } from '../base-event-bus.js';
import type { EventEnvelope } from '../envelope.js';

export interface RedisBusOptions extends BusOptions {
  keys: RedisKeys;
  /** Called when a live message cannot be parsed (never expected). */
  onBadMessage?: (channel: string, error: unknown) => void;
}

/**
 * The bus over Redis: publishing goes through the history's Lua script; each
 * replica SSUBSCRIBEs to a project's live (shard) channel only while it has local
 * subscribers of that project, on its own subscriber connection.
 */
export class RedisEventBus extends BaseEventBus {
  constructor(
    history: EventHistory,
    private readonly subscriber: Redis,
    private readonly busOptions: RedisBusOptions,
  ) {
    super(history, busOptions);
    const onMessage = (channel: string, message: string) => this.onMessage(channel, message);
    subscriber.on('smessage', onMessage);
  }

  protected async listen(projectId: string): Promise<void> {
    const channel = this.busOptions.keys.live(projectId);
    await withRedis(() => this.subscriber.ssubscribe(channel));
  }

  protected async unlisten(projectId: string): Promise<void> {
    const channel = this.busOptions.keys.live(projectId);
    // An unsubscribe that fails leaves a harmless extra subscription; never throw for it.
    await withRedis(() => this.subscriber.sunsubscribe(channel)).catch(() => undefined);
  }

  private onMessage(channel: string, message: string): void {
    const projectId = this.busOptions.keys.projectOfLiveChannel(channel);
    if (projectId === null) return;
    let events: EventEnvelope[];
    try {
      events = JSON.parse(message) as EventEnvelope[];
    } catch (err) {
      this.busOptions.onBadMessage?.(channel, err);
      return;
    }
    this.deliver(projectId, events);
  }
}
