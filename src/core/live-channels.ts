import type { EventEnvelope } from './envelope.js';
import type { EventBatch, LiveHandler, LiveState, LiveSubscription } from './event-store.port.js';
import { compilePattern, type Matcher } from './pattern.js';

interface Listener extends LiveSubscription {
  matcher: Matcher;
  handler: LiveHandler;
}

interface ProjectChannel {
  listeners: Set<Listener>;
  /** Resolves once this replica receives the project's live channel. */
  ready: Promise<void>;
}

/** How a store opens and closes one project's live channel. */
export interface ChannelTransport {
  listen(projectId: string): Promise<void>;
  unlisten(projectId: string): Promise<void>;
}

/**
 * The live half of every event store: per-project reference counting (a
 * replica listens to a project's channel only while it has local
 * subscribers), matching by type pattern, and the interrupted / restored
 * signal. A store owns one and hands it each batch it receives.
 */
export class LiveChannels {
  private readonly channels = new Map<string, ProjectChannel>();
  private readonly stateListeners: ((state: LiveState) => void)[] = [];

  constructor(
    private readonly transport: ChannelTransport,
    /** Called when a handler throws; delivery to the others carries on. */
    private readonly onHandlerError?: (error: unknown, events: readonly EventEnvelope[]) => void,
  ) {}

  async subscribe(
    projectId: string,
    pattern: string,
    handler: LiveHandler,
  ): Promise<LiveSubscription> {
    const listener: Listener = { projectId, pattern, matcher: compilePattern(pattern), handler };
    let channel = this.channels.get(projectId);
    if (!channel) {
      channel = { listeners: new Set(), ready: this.transport.listen(projectId) };
      this.channels.set(projectId, channel);
      // A failed listen must not leave a channel that every later subscribe awaits.
      const created = channel;
      channel.ready.catch(() => {
        if (this.channels.get(projectId) === created) this.channels.delete(projectId);
      });
    }
    channel.listeners.add(listener);
    try {
      await channel.ready;
    } catch (err) {
      channel.listeners.delete(listener);
      throw err;
    }
    return listener;
  }

  async unsubscribe(subscription: LiveSubscription): Promise<void> {
    const channel = this.channels.get(subscription.projectId);
    if (!channel || !channel.listeners.delete(subscription as Listener)) return;
    if (channel.listeners.size > 0) return;
    this.channels.delete(subscription.projectId);
    await channel.ready.catch(() => undefined);
    // Someone may have subscribed again while we waited: only unlisten if not.
    if (!this.channels.has(subscription.projectId)) {
      await this.transport.unlisten(subscription.projectId);
    }
  }

  listeningProjects(): string[] {
    return [...this.channels.keys()];
  }

  onLiveStateChange(listener: (state: LiveState) => void): void {
    this.stateListeners.push(listener);
  }

  /** The store's live connection dropped, or is subscribed again. */
  liveState(state: LiveState): void {
    for (const listener of this.stateListeners) listener(state);
  }

  /** One live batch of one project, in id order. */
  deliver(projectId: string, batch: EventBatch): void {
    const channel = this.channels.get(projectId);
    if (!channel) return;
    for (const listener of channel.listeners) {
      let matching = batch;
      if (listener.pattern !== '*') {
        const events = batch.events.filter((event) => listener.matcher(event.type));
        if (events.length === 0) continue;
        matching = events.length === batch.events.length ? batch : { events };
      }
      try {
        listener.handler(matching);
      } catch (err) {
        this.onHandlerError?.(err, matching.events);
      }
    }
  }
}
