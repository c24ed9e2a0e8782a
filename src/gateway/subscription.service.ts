import { Inject, Injectable } from '@nestjs/common';
import { GatewayError } from '../common/errors.js';
import { LOGGER, type JsonLogger } from '../common/json-logger.js';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import type { EventEnvelope } from '../events/envelope.js';
import { EVENT_BUS, type EventBus } from '../events/event-bus.port.js';
import { TypeFilter } from '../events/pattern.js';
import { EVENT_HISTORY, type EventHistory } from '../history/event-history.port.js';
import { GatewayMetrics } from '../ops/metrics.js';
import type { SubscribeDto } from './dto/subscribe.dto.js';
import { ProjectFeed, type CatchUpBuffer } from './project-feed.js';
import type { GatewayServer, GatewaySocket, SubscribeOk } from './socket-events.js';

interface ViewerSubscription {
  projectId: string;
  filter: TypeFilter;
  state: 'catching-up' | 'live' | 'closed';
  buffer: CatchUpBuffer;
  room?: string;
}

const HISTORY_PAGE = 1000;

/**
 * Socket subscriptions on this replica: one ProjectFeed per project with
 * local viewers (and so one live-channel subscription), and per socket the
 * projects it follows. Implements the resume rule of the protocol: listen
 * live first, read history, then merge by id, so there is no gap and no
 * duplicate between replay and live.
 */
@Injectable()
export class SubscriptionService {
  private server: GatewayServer | null = null;
  private readonly feeds = new Map<string, ProjectFeed>();
  private readonly bySocket = new Map<string, Map<string, ViewerSubscription>>();

  constructor(
    @Inject(EVENT_BUS) private readonly bus: EventBus,
    @Inject(EVENT_HISTORY) private readonly history: EventHistory,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(GatewayMetrics) private readonly metrics: GatewayMetrics,
    @Inject(LOGGER) private readonly logger: JsonLogger,
  ) {}

  attach(server: GatewayServer): void {
    this.server = server;
  }

  /**
   * Subscribes and answers through `ack`: the ack first, then the catch-up
   * `events`, then live ones. Throws GatewayError for coded refusals.
   */
  async subscribe(
    socket: GatewaySocket,
    dto: SubscribeDto,
    ack: (reply: { ok: true } & SubscribeOk) => void,
  ): Promise<void> {
    const subs = this.subsOf(socket.id);
    if (!subs.has(dto.projectId) && subs.size >= this.config.limits.maxSubscriptionsPerSocket) {
      throw new GatewayError(
        'RATE_LIMITED',
        `at most ${this.config.limits.maxSubscriptionsPerSocket} subscriptions per connection`,
      );
    }
    // Subscribing again replaces the earlier subscription.
    this.remove(socket, dto.projectId);
    const feed = this.feedFor(dto.projectId);
    const sub: ViewerSubscription = {
      projectId: dto.projectId,
      filter: new TypeFilter(dto.types),
      state: 'catching-up',
      buffer: feed.startCatchUp(),
    };
    subs.set(dto.projectId, sub);
    feed.viewers++;
    this.metrics.subscriptions.inc();

    let history: EventEnvelope[] = [];
    let threshold: string;
    let reply: SubscribeOk;
    try {
      await feed.ready;
      const replay = dto.since ? await this.readAllAfter(dto.projectId, dto.since) : null;
      if (replay) {
        history = replay.events;
        threshold = replay.lastId;
        reply = { projectId: dto.projectId, position: dto.since!, replayed: 0 };
      } else {
        const { position, snapshot } = await this.history.snapshot(dto.projectId);
        threshold = position;
        reply = { projectId: dto.projectId, position, replayed: 0, snapshot };
        if (dto.since) reply.resync = true;
      }
    } catch (err) {
      this.remove(socket, dto.projectId, sub);
      throw err;
    }
    if (sub.state !== 'catching-up' || subs.get(dto.projectId) !== sub || !socket.connected) {
      this.remove(socket, dto.projectId, sub);
      throw new GatewayError(
        'UNAVAILABLE',
        'subscription was replaced or cancelled while starting',
      );
    }
    const send = (events: EventEnvelope[]) => {
      for (let i = 0; i < events.length; i += 500) socket.emit('events', events.slice(i, i + 500));
    };
    const join = (room: string) => {
      if (sub.state !== 'catching-up') return;
      sub.state = 'live';
      sub.room = room;
      void socket.join(room);
    };
    // From here to the join everything is synchronous: no live event can slip in between.
    const { events, room } = feed.catchUp(
      sub.buffer,
      sub.filter,
      history,
      reply.position,
      threshold,
      send,
      join,
    );
    reply.replayed = events.length;
    ack({ ok: true, ...reply });
    send(events);
    if (room !== null) join(room);
    this.logger.event('debug', 'subscribed', {
      socket: socket.id,
      projectId: dto.projectId,
      replayed: events.length,
      resync: reply.resync ?? false,
    });
  }

  unsubscribe(socket: GatewaySocket, projectId: string): void {
    this.remove(socket, projectId);
  }

  /** Drops every subscription of a socket (on disconnect). */
  dropSocket(socket: GatewaySocket): void {
    const subs = this.bySocket.get(socket.id);
    if (!subs) return;
    for (const projectId of [...subs.keys()]) this.remove(socket, projectId);
    this.bySocket.delete(socket.id);
  }

  listeningProjects(): string[] {
    return [...this.feeds.keys()];
  }

  /** Every held event after `since`, and the stream's last id when read; null when not held. */
  private async readAllAfter(
    projectId: string,
    since: string,
  ): Promise<{ events: EventEnvelope[]; lastId: string } | null> {
    const events: EventEnvelope[] = [];
    let cursor = since;
    for (;;) {
      const page = await this.history.readAfter({ projectId }, cursor, HISTORY_PAGE);
      if (!page.held) return null;
      events.push(...page.events);
      if (!page.hasMore || page.events.length === 0) return { events, lastId: page.lastId };
      cursor = page.events[page.events.length - 1].id;
    }
  }

  private remove(socket: GatewaySocket, projectId: string, only?: ViewerSubscription): void {
    const subs = this.bySocket.get(socket.id);
    const sub = subs?.get(projectId);
    if (!subs || !sub || (only && sub !== only)) return;
    subs.delete(projectId);
    const feed = this.feeds.get(projectId);
    if (sub.state === 'live' && sub.room) {
      void socket.leave(sub.room);
      feed?.leave(sub.filter.key);
    } else {
      feed?.stopCatchUp(sub.buffer);
    }
    sub.state = 'closed';
    this.metrics.subscriptions.dec();
    if (!feed) return;
    feed.viewers--;
    if (feed.viewers <= 0) this.release(feed);
  }

  private feedFor(projectId: string): ProjectFeed {
    let feed = this.feeds.get(projectId);
    if (feed) return feed;
    feed = new ProjectFeed(
      projectId,
      {
        emitToRoom: (room, events) => this.server?.local.to(room).emit('events', events),
        roomSize: (room) => this.server?.of('/').adapter.rooms.get(room)?.size ?? 0,
      },
      this.config.batchWindowMs,
      (f) => this.bus.subscribe(projectId, '*', (event) => f.receive(event)),
      {
        delivered: (events, members) => {
          for (const event of events)
            this.metrics.eventsDelivered.inc({ type: event.type }, members);
        },
        emitted: (events) => {
          const now = Date.now();
          for (const event of events) {
            this.metrics.publishToEmit.observe((now - Date.parse(event.occurredAt)) / 1000);
          }
        },
      },
    );
    const created = feed;
    // A feed whose live subscription failed must not be reused.
    feed.ready.catch(() => {
      if (this.feeds.get(projectId) === created) this.feeds.delete(projectId);
    });
    this.feeds.set(projectId, feed);
    this.metrics.listenedProjects.set(this.feeds.size);
    return feed;
  }

  private release(feed: ProjectFeed): void {
    if (this.feeds.get(feed.projectId) === feed) this.feeds.delete(feed.projectId);
    feed.close();
    this.metrics.listenedProjects.set(this.feeds.size);
    feed.ready
      .then(() => (feed.busSubscription ? this.bus.unsubscribe(feed.busSubscription) : undefined))
      .catch((error: unknown) => this.logger.event('warn', 'live unsubscribe failed', { error }));
  }

  private subsOf(socketId: string): Map<string, ViewerSubscription> {
    let subs = this.bySocket.get(socketId);
    if (!subs) {
      subs = new Map();
      this.bySocket.set(socketId, subs);
    }
    return subs;
  }
}
