import { GatewayError } from '../core/errors.js';
import { ZERO_ID } from '../core/ids.js';
import type { JsonLogger } from '../core/support/json-logger.js';
import type { AppConfig } from '../config/app-config.js';
import type { EventEnvelope, Snapshot } from '../core/envelope.js';
import { activeRuns } from '../core/active-runs.js';
import { TypeFilter } from '../core/pattern.js';
import { LOG_EVENT_TYPE } from '../core/registry.js';
import {
  streamKey,
  type EventBatch,
  type EventStore,
  type StreamRef,
} from '../core/event-store.port.js';
import { countByType, type GatewayMetrics } from '../core/support/metrics.js';
import { BatchPacer } from './batch-pacer.js';
import type { LogsSubscribeDto, SubscribeDto } from './subscribe.dto.js';
import type { LogsSubscribeOk, SubscribeOk } from '../protocol/socket-events.js';
import { cancelled, Replays, StalledViewer, type Replay } from './replays.js';
import { StreamFeed, type FeedMember, type FeedObserver, type FeedSource } from './stream-feed.js';
import type { Viewer } from './viewer.js';
import { RunFollowers } from './run-followers.js';

interface ViewerSubscription {
  key: string;
  feed: StreamFeed;
  member: FeedMember;
}

/** What a subscribe read from history: the catch-up and the reply fields it implies. */
interface CatchUpRead {
  /** A replay after `since` (sent in pages when it is large or the viewer backed up). */
  replay?: Replay;
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
/** Reads retried when a resync of the feed overtakes them. */
const MAX_READ_ATTEMPTS = 3;

/**
 * Socket subscriptions on this replica: one StreamFeed per project (and per
 * run with log viewers), each with one live-channel subscription, and per
 * socket the streams it follows. Implements the resume rule of the protocol:
 * listen live first, read history, then merge by id, so there is no gap and no
 * duplicate between replay and live.
 */
export class SubscriptionService {
  private readonly pacer: BatchPacer;
  private readonly feeds = new Map<string, StreamFeed>();
  private readonly bySocket = new Map<string, Map<string, ViewerSubscription>>();
  /** Replays after `since`: their reads, the bytes they hold, their pacing. */
  private readonly replays: Replays;
  /** Viewers following every run of a project. */
  private readonly followers: RunFollowers;

  constructor(
    private readonly store: EventStore,
    private readonly config: AppConfig,
    private readonly metrics: GatewayMetrics,
    private readonly logger: JsonLogger,
  ) {
    this.replays = new Replays(store, {
      hardLimitBytes: config.viewer.hardLimitBytes,
      softLimitBytes: config.viewer.softLimitBytes,
      stallTimeoutMs: config.viewer.replayStallTimeoutMs,
      concurrentReads: config.replayConcurrentReads,
      maxBytes: config.replayMaxBytes,
    });
    metrics.countInternal(() => {
      const counts = this.counts();
      metrics.slowViewers.set(counts.slow);
      return {
        replay_bytes: this.replays.bytesHeld,
        // `rooms`: the groups of viewers sharing a stream and a filter, each written a batch at once.
        rooms: counts.groups,
        feeds: counts.feeds,
        socket_states: counts.sockets,
        feed_timers: counts.timers,
        bus_channels: this.store.listeningProjects().length,
      };
    });
    this.followers = new RunFollowers(
      store,
      {
        followRun: (viewer, stream) => this.subscribeLogs(viewer, stream, () => undefined),
        unfollowRun: (viewer, stream) => this.unsubscribe(viewer, stream),
        roomFor: (viewer) =>
          config.limits.maxSubscriptionsPerSocket - (this.bySocket.get(viewer.id)?.size ?? 0),
      },
      logger,
    );
    this.pacer = new BatchPacer(config.batchWindowMs, config.batchWindowMinMs);
    this.pacer.start();
    metrics.addCollector(() => metrics.batchWindow.set(this.pacer.windowMs));
    store.onLiveStateChange((state) => {
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

  /** `subscribe`: the ack first, then the catch-up `events`, then live ones. */
  subscribe(
    socket: Viewer,
    dto: SubscribeDto,
    ack: (reply: { ok: true } & SubscribeOk) => void,
  ): Promise<void> {
    const stream = { projectId: dto.projectId };
    const filter = TypeFilter.of(dto.types);
    return this.start(
      socket,
      stream,
      filter,
      async (alive) => {
        const replay = dto.since ? await this.replays.read(stream, dto.since, filter, alive) : null;
        if (replay) {
          return { replay, history: replay.held, position: dto.since!, threshold: replay.lastId };
        }
        const { position, snapshot } = await this.store.snapshot(dto.projectId);
        const read: CatchUpRead = { history: [], position, threshold: position, snapshot };
        if (dto.since) read.resync = true;
        return read;
      },
      (reply, read) => {
        ack({
          ...reply,
          projectId: dto.projectId,
          // With the snapshot, the runs in progress in it: a dashboard opening
          // mid-run can offer their live logs at once.
          ...(read.snapshot
            ? { snapshot: read.snapshot, activeRuns: activeRuns(read.snapshot) }
            : {}),
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
    socket: Viewer,
    dto: LogsSubscribeDto,
    ack: (reply: { ok: true } & LogsSubscribeOk) => void,
  ): Promise<void> {
    const stream = { projectId: dto.projectId, runId: dto.runId };
    return this.start(
      socket,
      stream,
      TypeFilter.of(undefined),
      async (alive) => {
        const all = TypeFilter.of(undefined);
        const from = dto.since ?? ZERO_ID;
        const replay = await this.replays.read(stream, from, all, alive);
        if (replay)
          return { replay, history: replay.held, position: from, threshold: replay.lastId };
        // Older lines were trimmed: what is kept is replayed, from the oldest line kept.
        const probe = await this.store.readAfter(stream, from, 1);
        const keptAfter = probe.held ? null : (probe.heldAfter ?? null);
        const kept = keptAfter ? await this.replays.read(stream, keptAfter, all, alive) : null;
        const read: CatchUpRead = kept
          ? { replay: kept, history: kept.held, position: ZERO_ID, threshold: kept.lastId }
          : { history: [], position: ZERO_ID, threshold: await this.lastId(stream) };
        if (dto.since) read.resync = true;
        return read;
      },
      ack,
    );
  }

  /**
   * Follows every run of the project, those in progress and those that start
   * later (`RunFollowers`); resolves with the runs followed at once.
   */
  followRuns(socket: Viewer, projectId: string): Promise<string[]> {
    return this.followers.follow(socket, projectId);
  }

  /** Stops following every run of the project, and the run subscriptions following took. */
  unfollowRuns(socket: Viewer, projectId: string): void {
    this.followers.unfollow(socket, projectId);
  }

  unsubscribe(socket: Viewer, stream: StreamRef): void {
    this.remove(socket, streamKey(stream));
  }

  /**
   * Drops the socket's subscriptions (project and run logs) of every project
   * `keep` refuses; returns the projects dropped.
   */
  dropProjects(socket: Viewer, keep: (projectId: string) => boolean): string[] {
    for (const projectId of this.followers.followedBy(socket)) {
      if (!keep(projectId)) this.followers.unfollow(socket, projectId);
    }
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
  dropConnection(socket: Viewer): void {
    for (const projectId of this.followers.followedBy(socket)) {
      this.followers.unfollow(socket, projectId);
    }
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
    groups: number;
    runFollowers: number;
  } {
    let subscriptions = 0;
    for (const subs of this.bySocket.values()) subscriptions += subs.size;
    let timers = 0;
    let slow = 0;
    let groups = 0;
    for (const feed of this.feeds.values()) {
      timers += feed.timers;
      slow += feed.slowMembers;
      groups += feed.groupCount;
    }
    return {
      feeds: this.feeds.size,
      sockets: this.bySocket.size,
      subscriptions,
      timers,
      slow,
      groups,
      runFollowers: this.followers.size,
    };
  }

  /**
   * The shared subscribe sequence: register with the feed (buffering live
   * events), wait until the feed is live, read (again, if a resync overtook
   * the read), then acknowledge, send the catch-up and go live.
   */
  private async start(
    socket: Viewer,
    stream: StreamRef,
    filter: TypeFilter,
    read: (alive: () => boolean) => Promise<CatchUpRead>,
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
    const member = feed.addMember(socket, filter);
    const sub: ViewerSubscription = { key, feed, member };
    subs.set(key, sub);
    this.metrics.subscriptions.inc();
    // A later subscribe to the same stream, an unsubscribe or a close cancels this one.
    const alive = () => member.state === 'reading' && subs.get(key) === sub && socket.isOpen();
    if (this.replays.stalledTooLong(socket)) {
      // Resubscribing must not keep a backed-up connection alive past the stall timeout.
      this.lag(feed, member, ZERO_ID, 'slow');
      throw new GatewayError('UNAVAILABLE', 'connection is backed up; reconnect and resume');
    }

    let result: CatchUpRead;
    let generation: number;
    try {
      await feed.ready;
      for (let attempt = 1; ; attempt++) {
        generation = feed.generation;
        result = await read(alive);
        if (feed.generation === generation) break;
        if (result.replay) this.replays.release(result.replay);
        if (attempt >= MAX_READ_ATTEMPTS) {
          throw new GatewayError('UNAVAILABLE', 'history is being rebuilt, retry');
        }
      }
    } catch (err) {
      this.remove(socket, key, sub);
      throw err;
    }
    if (!alive()) {
      if (result.replay) this.replays.release(result.replay);
      this.remove(socket, key, sub);
      throw cancelled();
    }
    const replay = result.replay;
    if (
      replay &&
      (replay.restAfter !== null ||
        socket.bufferedBytes() + replay.heldBytes > this.config.viewer.hardLimitBytes)
    ) {
      // Too much to write at once: the ack, then the replay in pages paced by
      // the connection, then live.
      const reply: CatchUpReply = { ok: true, position: result.position, replayed: replay.count };
      acknowledge(reply, result);
      this.streamReplay(socket, sub, stream, replay, result, generation!, alive).catch(
        (err: unknown) => this.endReplay(sub, err),
      );
      return;
    }
    // From here to `activate` everything runs synchronously: no live event slips in between.
    const events = feed.arm(member, result.history, result.position, result.threshold);
    // Sent (below, synchronously) or copied into `events`: the budget can have them back.
    if (replay) this.replays.release(replay);
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

  /**
   * Sends a replay too large to write at once (see `Replays.send`), then the
   * live events buffered meanwhile, and live. Live events gather in the feed
   * meanwhile, under the hard limit.
   */
  private async streamReplay(
    socket: Viewer,
    sub: ViewerSubscription,
    stream: StreamRef,
    replay: Replay,
    read: CatchUpRead,
    generation: number,
    alive: () => boolean,
  ): Promise<void> {
    const { feed, member } = sub;
    member.deliveredUpTo = read.position;
    const outcome = await this.replays.send(socket, stream, replay, {
      threshold: read.threshold,
      filter: member.filter,
      alive,
      delivered: (id) => (member.deliveredUpTo = id),
      current: () => feed.generation === generation,
    });
    if (outcome === 'cancelled') return;
    if (outcome === 'lost') {
      // Trimmed or lost under the replay: the viewer resumes from what it got.
      this.lag(feed, member, member.deliveredUpTo, 'lost');
      return;
    }
    const live = feed.arm(member, [], read.threshold, read.threshold);
    if (live.length > 0) socket.send(live);
    feed.activate(member);
  }

  /** A paced replay that failed: a stalled viewer is lagged and disconnected; anything else is lost. */
  private endReplay(sub: ViewerSubscription, err: unknown): void {
    const { member } = sub;
    if (member.state !== 'reading') return;
    if (!(err instanceof StalledViewer)) {
      this.logger.event('warn', 'replay failed', { stream: sub.key, error: err });
    }
    this.lag(
      sub.feed,
      member,
      member.deliveredUpTo,
      err instanceof StalledViewer ? 'slow' : 'lost',
    );
  }

  private lastId(stream: StreamRef): Promise<string> {
    return this.store.readLatest(stream, 1).then((latest) => latest.lastId);
  }

  /** Every held event after `since`, and the stream's last id when read; null when not held. */
  private async readAllAfter(
    stream: StreamRef,
    since: string,
  ): Promise<{ events: EventEnvelope[]; lastId: string } | null> {
    const events: EventEnvelope[] = [];
    let cursor = since;
    for (;;) {
      const page = await this.store.readAfter(stream, cursor, HISTORY_PAGE);
      if (!page.held) return null;
      events.push(...page.events);
      if (!page.hasMore || page.events.length === 0) return { events, lastId: page.lastId };
      cursor = page.events[page.events.length - 1].id;
    }
  }

  private remove(socket: Viewer, key: string, only?: ViewerSubscription): void {
    const subs = this.bySocket.get(socket.id);
    const sub = subs?.get(key);
    if (!subs || !sub || (only && sub !== only)) return;
    subs.delete(key);
    this.metrics.subscriptions.dec();
    sub.feed.removeMember(sub.member);
    if (sub.feed.size === 0) this.release(sub.feed);
  }

  /** A feed dropped a viewer: its subscription ends here; a slow one is also disconnected. */
  private lag(
    feed: StreamFeed,
    member: FeedMember,
    lastDeliveredId: string,
    reason: 'slow' | 'lost',
  ): void {
    const socket = member.viewer;
    const key = streamKey(feed.stream);
    socket.lagged(feed.stream, lastDeliveredId);
    this.remove(socket, key);
    if (reason === 'slow') {
      this.metrics.laggedViewers.inc();
      this.logger.event('warn', 'slow viewer past the hard limit: lagged and disconnected', {
        connection: socket.id,
        stream: key,
        lastDeliveredId,
      });
      socket.abort();
    }
  }

  private feedFor(stream: StreamRef): StreamFeed {
    const key = streamKey(stream);
    let feed = this.feeds.get(key);
    if (feed) return feed;
    const { projectId, runId } = stream;
    const source: FeedSource = {
      listen: (f) =>
        runId === undefined
          ? this.store.subscribe(projectId, '*', (batch) => f.receive(withoutLogLines(batch)))
          : this.store.subscribe(projectId, LOG_EVENT_TYPE, (batch) =>
              f.receive(linesOfRun(batch, runId)),
            ),
      lastId: () => this.lastId(stream),
      readAllAfter: (since) => this.readAllAfter(stream, since).then((r) => r?.events ?? null),
      ...(runId === undefined ? { snapshot: () => this.store.snapshot(projectId) } : {}),
    };
    const created: StreamFeed = new StreamFeed(
      stream,
      source,
      {
        batchWindowMs: () => this.pacer.windowMs,
        softLimitBytes: this.config.viewer.softLimitBytes,
        hardLimitBytes: this.config.viewer.hardLimitBytes,
        onLagged: (member, lastDeliveredId, reason) =>
          this.lag(created, member, lastDeliveredId, reason),
      },
      this.observer(key),
    );
    feed = created;
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
      .then(() =>
        feed.liveSubscription ? this.store.unsubscribe(feed.liveSubscription) : undefined,
      )
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

/** A project feed's part of a live batch: everything but log lines (they go to run feeds). */
function withoutLogLines(batch: EventBatch): EventBatch {
  if (!batch.events.some((event) => event.type === LOG_EVENT_TYPE)) return batch;
  return { events: batch.events.filter((event) => event.type !== LOG_EVENT_TYPE) };
}

/** A run feed's part of a batch of log lines: those of its run. */
function linesOfRun(batch: EventBatch, runId: string): EventBatch {
  const ofRun = (event: EventEnvelope) => (event.data as { runId?: string }).runId === runId;
  if (batch.events.every(ofRun)) return batch;
  return { events: batch.events.filter(ofRun) };
}
