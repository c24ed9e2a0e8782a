import type { EventEnvelope, PublishInput } from '../../src/events/envelope.js';
import type { EventBus } from '../../src/events/event-bus.port.js';
import type { EventHistory, HistoryLimits } from '../../src/history/event-history.port.js';
import { GatewayError } from '../../src/common/errors.js';
import { compareStreamIds } from '../../src/common/ids.js';

export interface EventStore {
  bus: EventBus;
  history: EventHistory;
  close(): Promise<void>;
}

export type EventStoreFactory = (limits: HistoryLimits) => Promise<EventStore>;

const DEFAULT_LIMITS: HistoryLimits = {
  maxEvents: 1000,
  maxLogLines: 1000,
  logTtlSeconds: 3600,
  endedTtlSeconds: 3600,
};

let projectSeq = 0;
const newProject = () => `p${process.pid}_${Date.now()}_${++projectSeq}`;

function task(projectId: string, taskId: string, to: 'planning' | 'active' | 'done'): PublishInput {
  return { type: 'task.status.changed', projectId, data: { taskId, from: null, to } };
}

/** Collects what a subscription receives and lets a test wait for a count. */
function collector() {
  const received: EventEnvelope[] = [];
  let waiters: (() => void)[] = [];
  return {
    received,
    handler: (e: EventEnvelope) => {
      received.push(e);
      waiters.forEach((w) => w());
      waiters = [];
    },
    async waitFor(count: number): Promise<EventEnvelope[]> {
      while (received.length < count) await new Promise<void>((r) => waiters.push(r));
      return received;
    },
  };
}

/**
 * One behaviour suite, run against every EventBus + EventHistory pair: what
 * passes here is what the gateway may rely on, in embedded mode or on Redis.
 */
export function describeEventStore(name: string, factory: EventStoreFactory): void {
  describe(`event store behaviour: ${name}`, () => {
    let store: EventStore;
    const open = async (limits: Partial<HistoryLimits> = {}) => {
      store = await factory({ ...DEFAULT_LIMITS, ...limits });
      return store;
    };
    afterEach(async () => {
      await store?.close();
    });

    it('stamps an envelope with a stream id, occurredAt and a default source', async () => {
      const { bus } = await open();
      const projectId = newProject();
      const before = Date.now();
      const e = await bus.publish(task(projectId, 't1', 'planning'));
      expect(e.id).toMatch(/^\d+-\d+$/);
      expect(e).toMatchObject({
        type: 'task.status.changed',
        projectId,
        source: 'gateway',
        data: { taskId: 't1', from: null, to: 'planning' },
      });
      expect(Date.parse(e.occurredAt)).toBeGreaterThanOrEqual(before - 1);
    });

    it('delivers to subscribers of the project, by pattern, and not to other projects', async () => {
      const { bus } = await open();
      const projectId = newProject();
      const other = newProject();
      const all = collector();
      const tasksOnly = collector();
      const otherProject = collector();
      await bus.subscribe(projectId, '*', all.handler);
      await bus.subscribe(projectId, 'task.*', tasksOnly.handler);
      await bus.subscribe(other, '*', otherProject.handler);
      await bus.publish({
        type: 'agent.status.changed',
        projectId,
        data: { agentId: 'a1', status: 'busy' },
      });
      await bus.publish(task(projectId, 't1', 'active'));
      await all.waitFor(2);
      await tasksOnly.waitFor(1);
      expect(all.received.map((e) => e.type)).toEqual([
        'agent.status.changed',
        'task.status.changed',
      ]);
      expect(tasksOnly.received.map((e) => e.type)).toEqual(['task.status.changed']);
      expect(otherProject.received).toEqual([]);
    });

    it('rejects an unknown type, a bad payload or an unknown field and stores nothing', async () => {
      const { bus, history } = await open();
      const projectId = newProject();
      const bad: unknown[] = [
        { type: 'task.exploded', data: { taskId: 't1' } },
        { type: 'task.status.changed', data: { taskId: 't1', from: null } },
        { type: 'task.status.changed', data: { taskId: 't1', from: null, to: 'done', extra: 1 } },
        { type: 'task.status.changed', data: { taskId: 'has space', from: null, to: 'done' } },
        { type: 'agent.run.log', data: { runId: 'r1', line: 'x'.repeat(8193), lineNumber: 1 } },
        { type: 'system.resource.sampled', data: { host: 'h', cpuPercent: 101, memoryPercent: 1 } },
      ];
      for (const input of bad) {
        await expect(bus.publishUnchecked(projectId, [input], 'test')).rejects.toMatchObject({
          code: 'INVALID_PAYLOAD',
        });
      }
      expect((await history.snapshot(projectId)).position).toBe('0-0');
      expect(await history.readAfter({ projectId }, '0-0', 10)).toEqual({
        held: true,
        events: [],
        lastId: '0-0',
        hasMore: false,
      });
    });

    it('publishes a batch all or nothing', async () => {
      const { bus, history } = await open();
      const projectId = newProject();
      const good = {
        type: 'task.status.changed',
        data: { taskId: 't1', from: null, to: 'planning' },
      };
      const err = await bus
        .publishUnchecked(projectId, [good, { type: 'nope', data: {} }], 'test')
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(GatewayError);
      expect((err as GatewayError).details).toEqual(
        expect.arrayContaining([expect.objectContaining({ path: '[1].type' })]),
      );
      expect((await history.readLatest({ projectId }, 10)).events).toEqual([]);
      const stored = await bus.publishUnchecked(projectId, [good, good], 'svc');
      expect(stored).toHaveLength(2);
      expect(compareStreamIds(stored[0].id, stored[1].id)).toBeLessThan(0);
      expect(stored[0].source).toBe('svc');
    });

    it('refuses more than 100 events in one publish', async () => {
      const { bus } = await open();
      const projectId = newProject();
      const many = Array.from({ length: 101 }, (_, i) => task(projectId, `t${i}`, 'planning'));
      await expect(bus.publishMany(many)).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    });

    it('reads after an id in order, exclusive, with paging', async () => {
      const { bus, history } = await open();
      const projectId = newProject();
      const ids: string[] = [];
      for (let i = 0; i < 5; i++)
        ids.push((await bus.publish(task(projectId, `t${i}`, 'planning'))).id);
      const all = await history.readAfter({ projectId }, '0-0', 100);
      expect(all).toMatchObject({ held: true, lastId: ids[4], hasMore: false });
      expect(all.held && all.events.map((e) => e.id)).toEqual(ids);
      const tail = await history.readAfter({ projectId }, ids[1], 2);
      expect(tail.held && tail.events.map((e) => e.id)).toEqual([ids[2], ids[3]]);
      expect(tail.held && tail.hasMore).toBe(true);
      const none = await history.readAfter({ projectId }, ids[4], 10);
      expect(none).toMatchObject({ held: true, events: [], hasMore: false });
      const latest = await history.readLatest({ projectId }, 2);
      expect(latest.events.map((e) => e.id)).toEqual([ids[3], ids[4]]);
      expect(latest.hasMore).toBe(true);
    });

    it('reads ids and types alone after an id, with the same paging and the same held rule', async () => {
      const { bus, history } = await open({ maxEvents: 5 });
      const projectId = newProject();
      const ids: string[] = [];
      for (let i = 0; i < 7; i++)
        ids.push((await bus.publish(task(projectId, `t${i}`, 'planning'))).id);
      const page = await history.readTypesAfter({ projectId }, ids[2], 3);
      expect(page).toEqual({
        held: true,
        lastId: ids[6],
        hasMore: true,
        entries: ids.slice(3, 6).map((id) => ({ id, type: 'task.status.changed' })),
      });
      expect(await history.readTypesAfter({ projectId }, '0-0', 3)).toEqual({
        held: false,
        heldAfter: ids[1],
      });
    });

    it('caps history and says when an id is no longer held or was never issued', async () => {
      const { bus, history } = await open({ maxEvents: 5 });
      const projectId = newProject();
      const ids: string[] = [];
      for (let i = 0; i < 8; i++)
        ids.push((await bus.publish(task(projectId, `t${i}`, 'planning'))).id);
      // ids[0..2] were trimmed: resuming after ids[2] still misses nothing.
      const fromLastTrimmed = await history.readAfter({ projectId }, ids[2], 100);
      expect(fromLastTrimmed.held && fromLastTrimmed.events.map((e) => e.id)).toEqual(ids.slice(3));
      // Not held, and where held history begins: after the highest trimmed id.
      const notHeld = { held: false, heldAfter: ids[2] };
      expect(await history.readAfter({ projectId }, ids[1], 100)).toEqual(notHeld);
      expect(await history.readAfter({ projectId }, '0-0', 100)).toEqual(notHeld);
      const [ms] = ids[7].split('-');
      expect(await history.readAfter({ projectId }, `${Number(ms) + 1000}-0`, 100)).toEqual(
        notHeld,
      );
      expect(await history.readAfter({ projectId: newProject() }, ids[3], 100)).toEqual({
        held: false,
      });
    });

    it('counts an id between two entries as never issued', async () => {
      const { bus, history } = await open();
      const projectId = newProject();
      const first = await bus.publish(task(projectId, 't1', 'planning'));
      const [ms, seq] = first.id.split('-').map(Number);
      // Stream ids take their first part from the clock: once it has moved on,
      // the next id is in a later millisecond and "ms-(seq+1)" is never issued.
      while (Date.now() <= ms) await Promise.resolve();
      const second = await bus.publish(task(projectId, 't2', 'planning'));
      const between = `${ms}-${seq + 1}`;
      expect(compareStreamIds(first.id, between)).toBeLessThan(0);
      expect(compareStreamIds(between, second.id)).toBeLessThan(0);
      expect(await history.readAfter({ projectId }, between, 100)).toMatchObject({ held: false });
      expect(await history.readAfter({ projectId }, first.id, 100)).toMatchObject({ held: true });
    });

    it('keeps the latest event per entity in a snapshot consistent with its position', async () => {
      const { bus, history } = await open();
      const projectId = newProject();
      await bus.publish(task(projectId, 't1', 'planning'));
      await bus.publish({
        type: 'task.status.changed',
        projectId,
        data: { taskId: 't1', from: 'planning', to: 'active' },
      });
      await bus.publish({
        type: 'subtask.unblocked',
        projectId,
        data: { subtaskId: 's1', taskId: 't1', unblockedBy: 's0' },
      });
      await bus.publish({
        type: 'agent.run.log',
        projectId,
        data: { runId: 'r1', line: 'hi', lineNumber: 1 },
      });
      const sample = await bus.publish({
        type: 'system.resource.sampled',
        projectId,
        data: { host: 'node-1', cpuPercent: 12.5, memoryPercent: 40 },
      });
      const { position, snapshot } = await history.snapshot(projectId);
      expect(position).toBe(sample.id);
      expect(Object.keys(snapshot).sort()).toEqual(['host:node-1', 'task:t1']);
      expect(snapshot['task:t1']).toMatchObject({ data: { to: 'active' } });
      expect(snapshot['host:node-1']).toEqual(sample);
    });

    it('lets ended entities age out of the snapshot', async () => {
      const { bus, history } = await open({ endedTtlSeconds: 0 });
      const projectId = newProject();
      await bus.publish(task(projectId, 'done1', 'done'));
      await bus.publish(task(projectId, 'live1', 'active'));
      const { snapshot } = await history.snapshot(projectId);
      expect(Object.keys(snapshot)).toEqual(['task:live1']);
    });

    it('within one batch, lets each entity’s last event decide its snapshot entry and whether it has ended', async () => {
      const { bus, history } = await open({ endedTtlSeconds: 0 });
      const projectId = newProject();
      const stored = await bus.publishMany([
        task(projectId, 'finished', 'active'),
        task(projectId, 'reopened', 'done'),
        task(projectId, 'finished', 'done'),
        task(projectId, 'reopened', 'active'),
        task(projectId, 'untouched', 'planning'),
      ]);
      const { position, snapshot } = await history.snapshot(projectId);
      expect(position).toBe(stored[4].id);
      expect(snapshot).toEqual({ 'task:reopened': stored[3], 'task:untouched': stored[4] });

      // And an entity that ended in an earlier batch is open again after a later one.
      const later = await bus.publishMany([
        task(projectId, 'finished', 'active'),
        task(projectId, 'reopened', 'done'),
      ]);
      expect((await history.snapshot(projectId)).snapshot).toEqual({
        'task:finished': later[0],
        'task:untouched': stored[4],
      });
    });

    it('keeps log lines in their run stream, not the project stream', async () => {
      const { bus, history } = await open({ maxLogLines: 3 });
      const projectId = newProject();
      const logs: string[] = [];
      for (let i = 1; i <= 4; i++) {
        const e = await bus.publish({
          type: 'agent.run.log',
          projectId,
          data: { runId: 'r1', line: `line ${i}`, lineNumber: i },
        });
        logs.push(e.id);
      }
      expect((await history.readLatest({ projectId }, 10)).events).toEqual([]);
      const run = await history.readAfter({ projectId, runId: 'r1' }, logs[0], 10);
      expect(run.held && run.events.map((e) => (e.data as { line: string }).line)).toEqual([
        'line 2',
        'line 3',
        'line 4',
      ]);
      // The first line was trimmed (the run keeps 3): held history begins after it.
      expect(await history.readAfter({ projectId, runId: 'r1' }, '0-0', 10)).toEqual({
        held: false,
        heldAfter: logs[0],
      });
    });

    it('listens to a project only while it has subscribers', async () => {
      const { bus } = await open();
      const projectId = newProject();
      const a = await bus.subscribe(projectId, '*', () => undefined);
      const b = await bus.subscribe(projectId, 'task.*', () => undefined);
      expect(bus.listeningProjects()).toContain(projectId);
      await bus.unsubscribe(a);
      expect(bus.listeningProjects()).toContain(projectId);
      await bus.unsubscribe(b);
      expect(bus.listeningProjects()).not.toContain(projectId);
    });

    it('delivers concurrent publishes to a subscriber in id order, each once', async () => {
      const { bus } = await open();
      const projectId = newProject();
      const c = collector();
      await bus.subscribe(projectId, '*', c.handler);
      const published = await Promise.all(
        Array.from({ length: 50 }, (_, i) => bus.publish(task(projectId, `t${i}`, 'planning'))),
      );
      const got = await c.waitFor(50);
      const ids = got.map((e) => e.id);
      expect(ids).toEqual([...ids].sort(compareStreamIds));
      expect(new Set(ids)).toEqual(new Set(published.map((e) => e.id)));
    });
  });
}
