import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { GatewayError } from '../common/errors.js';
import { LOGGER, type JsonLogger } from '../common/json-logger.js';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import type { EventEnvelope, Snapshot } from '../events/envelope.js';
import { EVENT_BUS, type EventBus } from '../events/event-bus.port.js';
import { TypeFilter } from '../events/pattern.js';
import { EVENT_HISTORY, type EventHistory, type StreamRef } from '../history/event-history.port.js';
import { countByType, GatewayMetrics } from '../ops/metrics.js';
import { BatchPacer } from './batch-pacer.js';
import { ConnectionViewer, type LaggedHandler } from './connection-viewer.js';
import { writeEventsToRoom } from './event-frames.js';
import type { LogsSubscribeDto, SubscribeDto } from './dto/subscribe.dto.js';
import type { GatewayServer, LogsSubscribeOk, SubscribeOk } from './socket-events.js';
import { StreamFeed, type FeedMember, type FeedObserver, type FeedSource } from './stream-feed.js';
import type { ViewerConnection } from './viewer-connection.js';

interface ViewerSubscription {
  key: string;
  feed: StreamFeed;
  member: FeedMember;
}

/** What a subscribe read from history: the catch-up and the reply fields it implies. */
interface CatchUpRead {
  history: EventEnvelope[];
  /** Events after this id are the viewer's. */
  position: string;
  /** Stream position the read saw (the viewer goes live once the feed has received it). */
  threshold: string;
  snapshot?: Snapshot['snapshot'];
  resync?: true;
}

/** What every subscribe ack carries (a project's adds its id and snapshot). */
type CatchUpReply = { ok: true } & LogsSubscribeOk;

const HISTORY_PAGE = 1000;
const LOG_TYPE = 'agent.run.log';
/** Reads retried when a resync of the feed overtakes them. */
const MAX_READ_ATTEMPTS = 3;

/** Map key of a stream: the project, or project and run (ids never contain `/`). */
function streamKey(stream: StreamRef): string {
  return stream.runId === undefined ? stream.projectId : `${stream.projectId}/${stream.runId}`;
}

/**
 * Socket subscriptions on this replica: one StreamFeed per project (and per
 * run with log viewers), each with one live-channel subscription, and per
 * socket the streams it follows. Implements the resume rule of the protocol:
 * listen live first, read history, then merge by id, so there is no gap and no
 * duplicate between replay and live.
 */
@Injectable()
export class SubscriptionService implements OnModuleDestroy {
  private readonly pacer: BatchPacer;
  private server: GatewayServer | null = null;
  private readonly feeds = new Map<string, StreamFeed>();
  private readonly bySocket = new Map<string, Map<string, ViewerSubscription>>();

  constructor(
    @Inject(EVENT_BUS) private readonly bus: EventBus,
    @Inject(EVENT_HISTORY) private readonly history: EventHistory,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(GatewayMetrics) private readonly metrics: GatewayMetrics,
    @Inject(LOGGER) private readonly logger: JsonLogger,
  ) {
    this.pacer = new BatchPacer(config.batchWindowMs);
    this.pacer.start();
    metrics.addCollector(() => metrics.batchWindow.set(this.pacer.windowMs));
    bus.onLiveStateChange((state) => {
      if (state === 'interrupted') {
        for (const feed of this.feeds.values()) feed.hold();
        return;
      }
      this.metrics.liveRestores.inc();
      this.logger.event('info', 'live channels restored; filling gaps from history', {
        feeds: this.feeds.size,
      });
      for (const feed of this.feeds.values()) feed.recover();
    });
  }

  onModuleDestroy(): void {
    this.pacer.stop();
  }

  attach(server: GatewayServer): void {
    this.server = server;
    this.metrics.addCollector(() => {
      const counts = this.counts();
      const sockets = server.of('/').sockets;
      let rooms = 0;
      // Every socket has a room named after its id; count only the others.
      for (const room of server.of('/').adapter.rooms.keys()) if (!sockets.has(room)) rooms++;
      const set = (kind: string, value: number) =>
        this.metrics.internalObjects.set({ kind }, value);
      set('rooms', rooms);
      set('feeds', counts.feeds);
      set('socket_states', counts.sockets);
      set('feed_timers', counts.timers);
      set('bus_channels', this.bus.listeningProjects().length);
      this.metrics.slowViewers.set(counts.slow);
    });
  }

  /** `subscribe`: the ack first, then the catch-up `events`, then live ones. */
  subscribe(
    socket: ViewerConnection,
    dto: SubscribeDto,
    ack: (reply: { ok: true } & SubscribeOk) => void,
  ): Promise<void> {
    const stream = { projectId: dto.projectId };
    return this.start(
      socket,
      stream,
      TypeFilter.of(dto.types),
      async () => {
        const replay = dto.since ? await this.readAllAfter(stream, dto.since) : null;
        if (replay) {
          return { history: replay.events, position: dto.since!, threshold: replay.lastId };
        }
        const { position, snapshot } = await this.history.snapshot(dto.projectId);
        const read: CatchUpRead = { history: [], position, threshold: position, snapshot };
        if (dto.since) read.resync = true;
        return read;
      },
      (reply, read) => {
        ack({
          ...reply,
          projectId: dto.projectId,
          ...(read.snapshot ? { snapshot: read.snapshot } : {}),
        });
      },
    );
  }

  /**
   * `logs:subscribe`: one run's log lines. Without `since`, the run's retained
   * lines are replayed first (position `0-0`; when older lines were trimmed,
   * the replay starts at the oldest one kept).
   */
  subscribeLogs(
    socket: ViewerConnection,
    dto: LogsSubscribeDto,
    ack: (reply: { ok: true } & LogsSubscribeOk) => void,
  ): Promise<void> {
    const stream = { projectId: dto.projectId, runId: dto.runId };
    return this.start(
      socket,
      stream,
      TypeFilter.of(undefined),
      async () => {
        const from = dto.since ?? '0-0';
        const replay = await this.readAllAfter(stream, from);
        if (replay) return { history: replay.events, position: from, threshold: replay.lastId };
        const latest = await this.history.readLatest(stream, this.config.history.maxLogLines);
        const read: CatchUpRead = {
          history: latest.events,
          position: '0-0',
          threshold: latest.lastId,
        };
        if (dto.since) read.resync = true;
        return read;
      },
      ack,
    );
  }

  unsubscribe(socket: ViewerConnection, stream: StreamRef): void {
    this.remove(socket, streamKey(stream));
  }

  /**
   * Drops the socket's subscriptions (project and run logs) of every project
   * `keep` refuses; returns the projects dropped.
   */
  dropProjects(socket: ViewerConnection, keep: (projectId: string) => boolean): string[] {
    const subs = this.bySocket.get(socket.id);
    if (!subs) return [];
    const dropped = new Set<string>();
    for (const [key, sub] of [...subs]) {
      const { projectId } = sub.feed.stream;
      if (keep(projectId)) continue;
      this.remove(socket, key);
      dropped.add(projectId);
    }
    return [...dropped];
  }

  /** Drops every subscription of a connection (when it closes). */
  dropConnection(socket: ViewerConnection): void {
    const subs = this.bySocket.get(socket.id);
    if (!subs) return;
    for (const key of [...subs.keys()]) this.remove(socket, key);
    this.bySocket.delete(socket.id);
  }

  /** Internal counts for leak checks and metrics. */
  counts(): {
    feeds: number;
    sockets: number;
    subscriptions: number;
    timers: number;
    slow: number;
  } {
    let subscriptions = 0;
    for (const subs of this.bySocket.values()) subscriptions += subs.size;
    let timers = 0;
    let slow = 0;
    for (const feed of this.feeds.values()) {
      timers += feed.timers;
      slow += feed.slowMembers;
    }
    return { feeds: this.feeds.size, sockets: this.bySocket.size, subscriptions, timers, slow };
  }

  /**
   * The shared subscribe sequence: register with the feed (buffering live
   * events), wait until the feed is live, read (again, if a resync overtook
   * the read), then acknowledge, send the catch-up and go live.
   */
  private async start(
    socket: ViewerConnection,
    stream: StreamRef,
    filter: TypeFilter,
    read: () => Promise<CatchUpRead>,
    acknowledge: (reply: CatchUpReply, read: CatchUpRead) => void,
  ): Promise<void> {
    const key = streamKey(stream);
    const subs = this.subsOf(socket.id);
    if (!subs.has(key) && subs.size >= this.config.limits.maxSubscriptionsPerSocket) {
      throw new GatewayError(
        'RATE_LIMITED',
        `at most ${this.config.limits.maxSubscriptionsPerSocket} subscriptions per connection`,
      );
    }
    // Subscribing again replaces the earlier subscription.
    this.remove(socket, key);
    const feed = this.feedFor(stream);
    const member = feed.addMember(new ConnectionViewer(socket, stream, key, this.onLagged), filter);
    const sub: ViewerSubscription = { key, feed, member };
    subs.set(key, sub);
    this.metrics.subscriptions.inc();

    let result: CatchUpRead;
    try {
      await feed.ready;
      for (let attempt = 1; ; attempt++) {
        const generation = feed.generation;
        result = await read();
        if (feed.generation === generation) break;
        if (attempt >= MAX_READ_ATTEMPTS) {
          throw new GatewayError('UNAVAILABLE', 'history is being rebuilt, retry');
        }
      }
    } catch (err) {
      this.remove(socket, key, sub);
      throw err;
    }
    if (member.state !== 'reading' || subs.get(key) !== sub || !socket.isOpen()) {
      this.remove(socket, key, sub);
      throw new GatewayError(
        'UNAVAILABLE',
        'subscription was replaced or cancelled while starting',
      );
    }
    // From here to `activate` everything runs synchronously: no live event slips in between.
    const events = feed.arm(member, result.history, result.position, result.threshold);
    this.logger.event('debug', 'subscribed', {
      socket: socket.id,
      stream: key,
      replayed: events.length,
      resync: result.resync ?? false,
    });
    const reply: CatchUpReply = { ok: true, position: result.position, replayed: events.length };
    if (result.resync) reply.resync = true;
    acknowledge(reply, result);
    if (events.length > 0) member.viewer.send(events);
    feed.activate(member);
  }

  /** Every held event after `since`, and the stream's last id when read; null when not held. */
  private async readAllAfter(
    stream: StreamRef,
    since: string,
  ): Promise<{ events: EventEnvelope[]; lastId: string } | null> {
    const events: EventEnvelope[] = [];
    let cursor = since;
    for (;;) {
      const page = await this.history.readAfter(stream, cursor, HISTORY_PAGE);
      if (!page.held) return null;
      events.push(...page.events);
      if (!page.hasMore || page.events.length === 0) return { events, lastId: page.lastId };
      cursor = page.events[page.events.length - 1].id;
    }
  }

  private remove(socket: ViewerConnection, key: string, only?: ViewerSubscription): void {
    const subs = this.bySocket.get(socket.id);
    const sub = subs?.get(key);
    if (!subs || !sub || (only && sub !== only)) return;
    subs.delete(key);
    this.metrics.subscriptions.dec();
    sub.feed.removeMember(sub.member);
    if (sub.feed.size === 0) this.release(sub.feed);
  }

  /** A feed dropped a viewer: its subscription ends here; a slow one is also disconnected. */
  private readonly onLagged: LaggedHandler = (viewer, lastDeliveredId, reason) => {
    const socket = viewer.connection;
    socket.lagged(viewer.stream, lastDeliveredId);
    this.remove(socket, viewer.key);
    if (reason === 'slow') {
      this.metrics.laggedViewers.inc();
      this.logger.event('warn', 'slow viewer past the hard limit: lagged and disconnected', {
        connection: socket.id,
        stream: viewer.key,
        lastDeliveredId,
      });
      socket.abort();
    }
  };

  private feedFor(stream: StreamRef): StreamFeed {
    const key = streamKey(stream);
    let feed = this.feeds.get(key);
    if (feed) return feed;
    const { projectId, runId } = stream;
    const source: FeedSource = {
      listen: (f) =>
        runId === undefined
          ? this.bus.subscribe(projectId, '*', (e) => e.type !== LOG_TYPE && f.receive(e))
          : this.bus.subscribe(projectId, LOG_TYPE, (e) => {
              if ((e.data as { runId?: string }).runId === runId) f.receive(e);
            }),
      lastId: () => this.history.readLatest(stream, 1).then((latest) => latest.lastId),
      readAllAfter: (since) => this.readAllAfter(stream, since).then((r) => r?.events ?? null),
      ...(runId === undefined ? { snapshot: () => this.history.snapshot(projectId) } : {}),
    };
    feed = new StreamFeed(
      stream,
      source,
      {
        batchWindowMs: () => this.pacer.windowMs,
        softLimitBytes: this.config.viewer.softLimitBytes,
        hardLimitBytes: this.config.viewer.hardLimitBytes,
        roomFor: (filter) => {
          if (runId !== undefined) return `logs:${projectId}:${runId}`;
          return filter.matchesAll ? `project:${projectId}` : `project:${projectId}|${filter.key}`;
        },
        emitToRoom: (room, events) => {
          if (this.server) writeEventsToRoom(this.server, room, events);
        },
      },
      this.observer(key),
    );
    const created = feed;
    // A feed whose live subscription failed must not be reused.
    feed.ready.catch(() => {
      if (this.feeds.get(key) === created) this.release(created);
    });
    this.feeds.set(key, feed);
    this.metrics.listenedProjects.set(this.feeds.size);
    return feed;
  }

  private observer(key: string): FeedObserver {
    const { metrics, logger } = this;
    return {
      // Counted per type per batch, not per event: metrics stay off the per-event path.
      delivered: (events, members) => countByType(metrics.eventsDelivered, events, members),
      // A batch's events were published within its window: its oldest stands for it.
      emitted: (events) => {
        metrics.publishToEmit.observe((Date.now() - Date.parse(events[0].occurredAt)) / 1000);
      },
      backfilled: (count) => {
        metrics.backfilledEvents.inc(count);
        if (count > 0) logger.event('info', 'gap filled from history', { stream: key, count });
      },
      resynced: (viewers) => {
        metrics.resyncs.inc(viewers);
        logger.event('warn', 'history behind live viewers was lost: resynced', {
          stream: key,
          viewers,
        });
      },
      // Logged once per episode (entering and leaving), never per event.
      slow: (viewer, slow, detail) => {
        logger.event(
          slow ? 'warn' : 'info',
          slow ? 'slow viewer: queueing and merging its events' : 'slow viewer caught up',
          { socket: viewer.id, stream: key, ...detail },
        );
      },
      merged: (count) => metrics.mergedEvents.inc(count),
      dropped: (_viewer, count) => metrics.droppedEvents.inc(count),
      recoveryFailed: (error) =>
        logger.event('warn', 'gap fill failed; retrying', { stream: key, error }),
    };
  }

  private release(feed: StreamFeed): void {
    const key = streamKey(feed.stream);
    if (this.feeds.get(key) === feed) this.feeds.delete(key);
    feed.close();
    this.metrics.listenedProjects.set(this.feeds.size);
    feed.ready
      .then(() => (feed.busSubscription ? this.bus.unsubscribe(feed.busSubscription) : undefined))
      .catch(() => undefined);
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
