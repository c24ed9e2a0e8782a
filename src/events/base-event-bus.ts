import { GatewayError } from '../common/errors.js';
import type { EventHistory } from '../history/event-history.port.js';
import type { EventEnvelope, PendingEvent, PublishInput } from './envelope.js';
import {
  MAX_EVENTS_PER_PUBLISH,
  type BusSubscription,
  type EventBus,
  type EventHandler,
  type LiveState,
} from './event-bus.port.js';
import { compilePattern, type Matcher } from './pattern.js';
import { validateEvent } from './validate-event.js';

interface Listener extends BusSubscription {
  matcher: Matcher;
  handler: EventHandler;
}

interface ProjectChannel {
  listeners: Set<Listener>;
  /** Resolves once this replica receives the project's live channel. */
  ready: Promise<void>;
}

export interface BusOptions {
  /** Called after every successful publish (metrics). */
  onPublished?: (events: EventEnvelope[]) => void;
  /** Called when a handler throws; the bus itself carries on. */
  onHandlerError?: (error: unknown, event: EventEnvelope) => void;
}

/**
 * What both bus implementations share: validation, stamping, publishing
 * through the history's atomic append, and per-project reference counting so
 * a replica listens to a project's live channel only while it has local
 * subscribers. Adapters supply `listen` / `unlisten` and call `deliver`.
 */
export abstract class BaseEventBus implements EventBus {
  private readonly channels = new Map<string, ProjectChannel>();
  private readonly stateListeners: ((state: LiveState) => void)[] = [];

  protected constructor(
    protected readonly history: EventHistory,
    protected readonly options: BusOptions = {},
  ) {}

  protected abstract listen(projectId: string): Promise<void>;
  protected abstract unlisten(projectId: string): Promise<void>;

  async publish(input: PublishInput): Promise<EventEnvelope> {
    const [event] = await this.publishMany([input]);
    return event;
  }

  publishMany(inputs: readonly PublishInput[]): Promise<EventEnvelope[]> {
    const projectId = inputs[0]?.projectId ?? '';
    return this.publishUnchecked(projectId, inputs, 'gateway');
  }

  async publishUnchecked(
    projectId: string,
    inputs: readonly unknown[],
    defaultSource: string,
  ): Promise<EventEnvelope[]> {
    if (inputs.length === 0) {
      throw new GatewayError('INVALID_PAYLOAD', 'nothing to publish', [
        { path: '(root)', problem: 'must contain at least one event' },
      ]);
    }
    if (inputs.length > MAX_EVENTS_PER_PUBLISH) {
      throw new GatewayError(
        'PAYLOAD_TOO_LARGE',
        `at most ${MAX_EVENTS_PER_PUBLISH} events per publish, got ${inputs.length}`,
      );
    }
    const now = new Date();
    const pending: PendingEvent[] = [];
    const problems: unknown[] = [];
    inputs.forEach((input, i) => {
      const withProject =
        input !== null && typeof input === 'object' && !Array.isArray(input)
          ? { projectId, ...input }
          : input;
      try {
        const event = validateEvent(
          withProject,
          defaultSource,
          now,
          inputs.length > 1 ? `[${i}]` : '',
        );
        if (event.projectId !== projectId) {
          problems.push({
            path: inputs.length > 1 ? `[${i}].projectId` : 'projectId',
            problem: `must be ${projectId}`,
          });
        } else {
          pending.push(event);
        }
      } catch (err) {
        if (err instanceof GatewayError && Array.isArray(err.details))
          problems.push(...(err.details as unknown[]));
        else throw err;
      }
    });
    if (problems.length > 0) {
      throw new GatewayError('INVALID_PAYLOAD', 'invalid events: nothing was published', problems);
    }
    const stored = await this.history.append(pending);
    this.options.onPublished?.(stored);
    return stored;
  }

  async subscribe(
    projectId: string,
    pattern: string,
    handler: EventHandler,
  ): Promise<BusSubscription> {
    const listener: Listener = { projectId, pattern, matcher: compilePattern(pattern), handler };
    let channel = this.channels.get(projectId);
    if (!channel) {
      channel = { listeners: new Set(), ready: this.listen(projectId) };
      this.channels.set(projectId, channel);
      // A failed listen must not leave a channel that every later subscribe awaits.
      channel.ready.catch(() => {
        if (this.channels.get(projectId) === channel) this.channels.delete(projectId);
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

  async unsubscribe(subscription: BusSubscription): Promise<void> {
    const channel = this.channels.get(subscription.projectId);
    if (!channel || !channel.listeners.delete(subscription as Listener)) return;
    if (channel.listeners.size > 0) return;
    this.channels.delete(subscription.projectId);
    await channel.ready.catch(() => undefined);
    // Someone may have subscribed again while we waited: only unlisten if not.
    if (!this.channels.has(subscription.projectId)) await this.unlisten(subscription.projectId);
  }

  listeningProjects(): string[] {
    return [...this.channels.keys()];
  }

  onLiveStateChange(listener: (state: LiveState) => void): void {
    this.stateListeners.push(listener);
  }

  /** Adapters call this when their live connection drops, and again once it is subscribed again. */
  protected liveState(state: LiveState): void {
    for (const listener of this.stateListeners) listener(state);
  }

  /** Adapters call this with each live batch of one project, in id order. */
  protected deliver(projectId: string, events: readonly EventEnvelope[]): void {
    const channel = this.channels.get(projectId);
    if (!channel) return;
    for (const event of events) {
      for (const listener of channel.listeners) {
        if (!listener.matcher(event.type)) continue;
        try {
          listener.handler(event);
        } catch (err) {
          this.options.onHandlerError?.(err, event);
        }
      }
    }
  }
}
