import type { EventEnvelope, Snapshot } from '../../src/events/envelope.js';
import { TypeFilter } from '../../src/events/pattern.js';
import {
  StreamFeed,
  type FeedObserver,
  type FeedSource,
  type FeedViewer,
} from '../../src/gateway/stream-feed.js';

/** A viewer as the feed sees it: records what reaches it, directly or through its room. */
class FakeViewer implements FeedViewer {
  readonly received: EventEnvelope[] = [];
  readonly rooms = new Set<string>();
  readonly resyncs: Snapshot[] = [];
  readonly lags: { lastDeliveredId: string; reason: string }[] = [];
  buffered = 0;
  constructor(readonly id: string) {}
  send(events: EventEnvelope[]): void {
    this.received.push(...events);
  }
  join(room: string): void {
    this.rooms.add(room);
  }
  leave(room: string): void {
    this.rooms.delete(room);
  }
  bufferedBytes(): number {
    return this.buffered;
  }
  resync(snapshot: Snapshot): void {
    this.resyncs.push(snapshot);
  }
  lagged(lastDeliveredId: string, reason: 'slow' | 'lost'): void {
    this.lags.push({ lastDeliveredId, reason });
  }
  ids(): string[] {
    return this.received.map((e) => e.id);
  }
}

const ev = (ms: number, type = 'task.status.changed', data: object = { taskId: `t${ms}` }) =>
  ({
    id: `${ms}-0`,
    type,
    projectId: 'p',
    occurredAt: new Date(0).toISOString(),
    source: 't',
    data,
  }) as EventEnvelope;
const sample = (ms: number, host: string) =>
  ev(ms, 'system.resource.sampled', { host, cpuPercent: ms % 100, memoryPercent: 1 });

const quiet: FeedObserver = {
  delivered: () => undefined,
  emitted: () => undefined,
  backfilled: () => undefined,
  resynced: () => undefined,
  slow: () => undefined,
  merged: () => undefined,
  dropped: () => undefined,
  recoveryFailed: () => undefined,
};

/** A stream whose history the test controls. */
function setup(options: { snapshot?: boolean; lastId?: string } = {}) {
  const history: EventEnvelope[] = [];
  let lost = false;
  const viewers: FakeViewer[] = [];
  /** Ids of each batch written to the room. */
  const batches: string[][] = [];
  const source: FeedSource = {
    listen: () => Promise.resolve({ projectId: 'p', pattern: '*' }),
    lastId: () => Promise.resolve(history.at(-1)?.id ?? options.lastId ?? '0-0'),
    readAllAfter: (since) => {
      if (lost) return Promise.resolve(null);
      const [ms] = since.split('-').map(Number);
      return Promise.resolve(history.filter((e) => Number(e.id.split('-')[0]) > ms));
    },
    ...(options.snapshot === false
      ? {}
      : {
          snapshot: () => Promise.resolve({ position: history.at(-1)?.id ?? '0-0', snapshot: {} }),
        }),
  };
  const feed = new StreamFeed(
    { projectId: 'p' },
    source,
    {
      batchWindowMs: () => 5,
      softLimitBytes: 1000,
      hardLimitBytes: 5000,
      roomFor: () => 'room',
      emitToRoom: (room, events) => {
        batches.push(events.map((e) => e.id));
        for (const v of viewers) if (v.rooms.has(room)) v.received.push(...events);
      },
    },
    quiet,
  );
  const viewer = (id: string) => {
    const v = new FakeViewer(id);
    viewers.push(v);
    return v;
  };
  /** Adds a live member the way the gateway does: read, arm, send, activate. */
  const join = (v: FakeViewer, position = history.at(-1)?.id ?? '0-0') => {
    const member = feed.addMember(v, new TypeFilter(undefined));
    const events = feed.arm(member, [], position, position);
    v.send(events);
    feed.activate(member);
    return member;
  };
  return {
    feed,
    batches,
    history,
    viewer,
    join,
    loseHistory: () => (lost = true),
    /** Publishes: stored in history, delivered live unless `offline`. */
    publish: (e: EventEnvelope, offline = false) => {
      history.push(e);
      if (!offline) feed.receive(e);
    },
  };
}

const settle = () => new Promise((r) => setImmediate(r));
/** Lets the current turn end (leading-edge batches go out), then moves the clock. */
const tick = async (ms: number) => {
  await settle();
  jest.advanceTimersByTime(ms);
};

describe('stream feed', () => {
  beforeEach(() =>
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] }),
  );
  afterEach(() => jest.useRealTimers());

  it('writes what arrives in one turn as one batch at its end, once to the room', async () => {
    const { feed, viewer, join, publish, batches } = setup();
    await feed.ready;
    const a = viewer('a');
    const b = viewer('b');
    join(a);
    join(b);
    publish(ev(1));
    publish(ev(2));
    expect(a.received).toEqual([]);
    await settle();
    expect(batches).toEqual([['1-0', '2-0']]);
    expect(a.ids()).toEqual(['1-0', '2-0']);
    expect(b.ids()).toEqual(['1-0', '2-0']);
  });

  it('gathers a busy stream for a window after its last batch before writing again', async () => {
    const { feed, viewer, join, publish, batches } = setup();
    await feed.ready;
    join(viewer('a'));
    publish(ev(1));
    await settle();
    publish(ev(2)); // within the window after the batch of 1
    await settle();
    publish(ev(3));
    await settle();
    expect(batches).toEqual([['1-0']]);
    await tick(5);
    expect(batches).toEqual([['1-0'], ['2-0', '3-0']]);
    expect(feed.timers).toBe(0);
  });

  it('a viewer whose history read ended past what the feed has received goes live only when that event arrives', async () => {
    const { feed, viewer, publish } = setup();
    await feed.ready;
    const v = viewer('v');
    const member = feed.addMember(v, new TypeFilter(undefined));
    publish(ev(1)); // received while reading: buffered
    // Its read saw events up to 3 (2 and 3 are still in flight to this replica).
    const catchUp = feed.arm(member, [ev(1), ev(2), ev(3)], '0-0', '3-0');
    v.send(catchUp);
    feed.activate(member);
    expect(v.rooms.size).toBe(0);
    publish(ev(2));
    expect(v.rooms.size).toBe(0);
    publish(ev(3));
    expect(v.rooms.has('room')).toBe(true);
    publish(ev(4));
    await tick(5);
    expect(v.ids()).toEqual(['1-0', '2-0', '3-0', '4-0']);
  });

  it('after an interruption, fills the gap from history before the live events held meanwhile', async () => {
    const { feed, viewer, join, publish } = setup();
    await feed.ready;
    const v = viewer('v');
    join(v);
    publish(ev(1));
    feed.hold();
    publish(ev(2), true); // missed while the channel was down
    publish(ev(3), true);
    publish(ev(4)); // arrives live after the reconnect, before the gap is read
    feed.recover();
    await settle();
    publish(ev(5));
    await tick(5);
    expect(v.ids()).toEqual(['1-0', '2-0', '3-0', '4-0', '5-0']);
  });

  it('resyncs live viewers from a fresh snapshot when the history behind them is gone', async () => {
    const { feed, viewer, join, publish, loseHistory, history } = setup();
    await feed.ready;
    const v = viewer('v');
    join(v);
    publish(ev(1));
    await tick(5);
    feed.hold();
    loseHistory();
    history.splice(0, history.length, ev(7));
    feed.recover();
    await settle();
    expect(v.resyncs).toEqual([{ position: '7-0', snapshot: {} }]);
    publish(ev(7)); // already in the snapshot
    publish(ev(8));
    await tick(5);
    expect(v.ids()).toEqual(['1-0', '8-0']);
    expect(feed.generation).toBe(1);
  });

  it('drops the viewers of a stream without snapshots (a run log) as lagged when its history is gone', async () => {
    const { feed, viewer, join, loseHistory } = setup({ snapshot: false });
    await feed.ready;
    const v = viewer('v');
    join(v);
    feed.hold();
    loseHistory();
    feed.recover();
    await settle();
    expect(v.lags).toEqual([{ lastDeliveredId: '0-0', reason: 'lost' }]);
    expect(feed.size).toBe(0);
  });

  it('takes a viewer over the soft limit out of the room, merges its queue, and puts it back once drained', async () => {
    const { feed, viewer, join, publish } = setup();
    await feed.ready;
    const slow = viewer('slow');
    const fast = viewer('fast');
    join(slow);
    join(fast);
    slow.buffered = 2000;
    publish(ev(1));
    await tick(5); // written, then found over the soft limit
    expect(slow.rooms.size).toBe(0);
    expect(feed.slowMembers).toBe(1);
    for (let ms = 2; ms < 12; ms++) publish(sample(ms, ms % 2 ? 'a' : 'b'));
    await tick(5);
    expect(slow.ids()).toEqual(['1-0']);
    expect(fast.received).toHaveLength(11);
    slow.buffered = 400; // under half the soft limit
    await tick(50);
    expect(slow.ids()).toEqual(['1-0', '10-0', '11-0']);
    expect(slow.rooms.has('room')).toBe(true);
    expect(feed.slowMembers).toBe(0);
    expect(feed.timers).toBe(0);
  });

  it('lags a slow viewer past the hard limit, telling it the last id it was served', async () => {
    const { feed, viewer, join, publish } = setup();
    await feed.ready;
    const v = viewer('v');
    join(v);
    v.buffered = 4500;
    publish(ev(1));
    await tick(5);
    publish(
      ev(2, 'subtask.unblocked', { subtaskId: 's', taskId: 't', unblockedBy: 'x'.repeat(600) }),
    );
    await tick(5);
    expect(v.lags).toEqual([{ lastDeliveredId: '1-0', reason: 'slow' }]);
    expect(feed.size).toBe(0);
    expect(feed.slowMembers).toBe(0);
  });
});
