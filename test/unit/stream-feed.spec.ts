import type { EventEnvelope, Snapshot } from '../../src/core/envelope.js';
import { TypeFilter } from '../../src/core/pattern.js';
import type { OutgoingBatch } from '../../src/delivery/outgoing-batch.js';
import {
  StreamFeed,
  type FeedMember,
  type FeedObserver,
  type FeedSource,
} from '../../src/delivery/stream-feed.js';
import type { Viewer } from '../../src/delivery/viewer.js';

/** A viewer as the feed sees it: records what reaches it, alone or with its group. */
class FakeViewer implements Viewer {
  readonly received: EventEnvelope[] = [];
  readonly resyncs: Snapshot[] = [];
  readonly lags: { lastDeliveredId: string; reason: string }[] = [];
  buffered = 0;
  constructor(
    readonly id: string,
    /** Called with each group batch written to this viewer. */
    private readonly onBatch: (batch: OutgoingBatch) => void,
  ) {}
  isOpen(): boolean {
    return true;
  }
  send(events: readonly EventEnvelope[]): void {
    this.received.push(...events);
  }
  write(batch: OutgoingBatch): void {
    this.onBatch(batch);
    this.received.push(...batch.events);
  }
  bufferedBytes(): number {
    return this.buffered;
  }
  resync(_projectId: string, snapshot: Snapshot): void {
    this.resyncs.push(snapshot);
  }
  lagged(): void {
    throw new Error('the feed reports lags through its onLagged option');
  }
  abort(): void {}
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
  /** Ids of each batch written to the group. */
  const batches: string[][] = [];
  const seen = new WeakSet<OutgoingBatch>();
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
      onLagged: (member, lastDeliveredId, reason) =>
        (member.viewer as FakeViewer).lags.push({ lastDeliveredId, reason }),
    },
    quiet,
  );
  const viewer = (id: string) => {
    const v = new FakeViewer(id, (batch) => {
      // Each group batch once, however many viewers it is written to.
      if (seen.has(batch)) return;
      seen.add(batch);
      batches.push(batch.events.map((e) => e.id));
    });
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
      if (!offline) feed.receive({ events: [e] });
    },
  };
}

/** Whether the member gets its group's batches (live, not catching up nor slow). */
const live = (member: FeedMember) => member.state === 'live';

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

  it('writes what arrives in one turn as one batch at its end, once to the group', async () => {
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

  it('writes live batches with the JSON texts they arrived with, joined, and serializes anything else', async () => {
    const { feed, viewer, join } = setup();
    await feed.ready;
    const written: OutgoingBatch[] = [];
    const v = viewer('v');
    join(v);
    const original = v.write.bind(v);
    v.write = (batch) => {
      written.push(batch);
      original(batch);
    };
    // Texts as a store hands them over: not what JSON.stringify gives (the extra
    // spaces), so a text written out can only have come from the batches.
    const text = (events: EventEnvelope[]) =>
      JSON.stringify(events).replace(/,"type"/g, ', "type"');
    const a = [ev(1), ev(2)];
    const b = [ev(3)];
    feed.receive({ events: a, text: text(a) });
    feed.receive({ events: b, text: text(b) });
    await settle();
    expect(written[0].jsonText).toBe(`[${text(a).slice(1, -1)},${text(b).slice(1, -1)}]`);
    expect(JSON.parse(written[0].jsonText)).toEqual([...a, ...b]);
    // Later: one batch without a text (a gap read, say) makes the whole write serialize.
    await tick(5);
    feed.receive({ events: [ev(4)], text: text([ev(4)]) });
    feed.receive({ events: [ev(5)] });
    await tick(5);
    expect(written[1].text).toBeUndefined();
    expect(written[1].jsonText).toBe(JSON.stringify([ev(4), ev(5)]));
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
    expect(live(member)).toBe(false);
    publish(ev(2));
    expect(live(member)).toBe(false);
    publish(ev(3));
    expect(live(member)).toBe(true);
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

  it("takes a viewer over the soft limit out of its group's writes, merges its queue, and puts it back once drained", async () => {
    const { feed, viewer, join, publish } = setup();
    await feed.ready;
    const slow = viewer('slow');
    const fast = viewer('fast');
    const slowMember = join(slow);
    join(fast);
    slow.buffered = 2000;
    publish(ev(1));
    await tick(5); // written, then found over the soft limit
    expect(live(slowMember)).toBe(false);
    expect(feed.slowMembers).toBe(1);
    for (let ms = 2; ms < 12; ms++) publish(sample(ms, ms % 2 ? 'a' : 'b'));
    await tick(5);
    expect(slow.ids()).toEqual(['1-0']);
    expect(fast.received).toHaveLength(11);
    slow.buffered = 400; // under half the soft limit
    await tick(50);
    expect(slow.ids()).toEqual(['1-0', '10-0', '11-0']);
    expect(live(slowMember)).toBe(true);
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
