import type { RedisCommandClient as Redis } from '../../redis/lua-script.js';
import type { RedisKeys } from '../../redis/keys.js';
import { UnavailableError } from '../../common/errors.js';
import { withRedis } from '../../redis/redis-errors.js';
import type { EventHistory } from '../../history/event-history.port.js';
import { BaseEventBus, type BusOptions } from '../base-event-bus.js';
import type { EventEnvelope } from '../envelope.js';
import { rememberText } from '../wire-text.js';

export interface RedisBusOptions extends BusOptions {
  keys: RedisKeys;
  /** Called when a live message cannot be parsed, or a resubscribe fails. */
  onError?: (context: string, error: unknown) => void;
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
    // The bus is built on a connected subscriber, so every later `ready` is a
    // reconnect. ioredis re-subscribes as it reconnects, so live messages may
    // arrive before `ready`: listeners hold them from the moment of the drop.
    subscriber.on('close', () => this.liveState('interrupted'));
    subscriber.on('ready', () => void this.resubscribe());
  }

  protected async listen(projectId: string): Promise<void> {
    // Fail fast while disconnected: a subscribe queued behind an outage would hang its viewer.
    if (this.subscriber.status !== 'ready') throw new UnavailableError('live channel unavailable');
    const channel = this.busOptions.keys.live(projectId);
    await withRedis(() => this.subscriber.ssubscribe(channel));
  }

  /**
   * ioredis re-subscribes by itself on reconnect, but without telling us when
   * that is done; subscribing again (idempotent) and awaiting the replies
   * gives the moment from which every live message reaches us, so the gap can
   * be read from history without missing anything.
   */
  private async resubscribe(): Promise<void> {
    try {
      for (const projectId of this.listeningProjects()) {
        await this.subscriber.ssubscribe(this.busOptions.keys.live(projectId));
      }
    } catch (err) {
      // Dropped again: the next `ready` retries.
      this.busOptions.onError?.('resubscribe', err);
      return;
    }
    this.liveState('restored');
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
      this.busOptions.onError?.(`message on ${channel}`, err);
      return;
    }
    rememberText(events, message);
    this.deliver(projectId, events);
  }
}
