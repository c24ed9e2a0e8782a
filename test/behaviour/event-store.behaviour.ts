import type { EventEnvelope, PublishInput } from '../../src/core/envelope.js';
import type { EventBatch, EventStore, HistoryLimits } from '../../src/core/event-store.port.js';
import { EventPublisher } from '../../src/core/publisher.js';
import { GatewayError } from '../../src/core/errors.js';
import { compareStreamIds } from '../../src/core/ids.js';
import { eventually } from '../support/metrics.js';

export interface OpenStore {
  store: EventStore;
  close(): Promise<void>;
}

export type EventStoreFactory = (limits: HistoryLimits) => Promise<OpenStore>;

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
  const batches: EventBatch[] = [];
  let waiters: (() => void)[] = [];
  return {
    received,
    batches,
    handler: (batch: EventBatch) => {
      batches.push(batch);
      received.push(...batch.events);
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
 * One behaviour suite, run against every EventStore (with the publisher that
 * validates for it): what passes here is what the gateway may rely on, in
 * embedded mode or on Redis.
 */
export function describeEventStore(name: string, factory: EventStoreFactory): void {
  describe(`event store behaviour: ${name}`, () => {
    let opened: OpenStore | undefined;
    const open = async (limits: Partial<HistoryLimits> = {}) => {
      opened = await factory({ ...DEFAULT_LIMITS, ...limits });
      const { store } = opened;
      return { store, publisher: new EventPublisher(store) };
    };
    afterEach(async () => {
      await opened?.close();
      opened = undefined;
    });

    it('stamps an envelope with a stream id, occurredAt and a default source', async () => {
      const { publisher } = await open();
      const projectId = newProject();
      const before = Date.now();
      const e = await publisher.publish(task(projectId, 't1', 'planning'));
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
      const { store, publisher } = await open();
      const projectId = newProject();
      const other = newProject();
      const all = collector();
      const tasksOnly = collector();
      const otherProject = collector();
      await store.subscribe(projectId, '*', all.handler);
      await store.subscribe(projectId, 'task.*', tasksOnly.handler);
      await store.subscribe(other, '*', otherProject.handler);
      await publisher.publish({
        type: 'agent.status.changed',
        projectId,
        data: { agentId: 'a1', status: 'busy' },
      });
      await publisher.publish(task(projectId, 't1', 'active'));
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
      const { store, publisher } = await open();
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
        await expect(publisher.publishUnchecked(projectId, [input], 'test')).rejects.toMatchObject({
          code: 'INVALID_PAYLOAD',
        });
      }
      expect((await store.snapshot(projectId)).position).toBe('0-0');
      expect(await store.readAfter({ projectId }, '0-0', 10)).toEqual({
        held: true,
        events: [],
        lastId: '0-0',
        hasMore: false,
      });
    });

    it('publishes a batch all or nothing', async () => {
      const { store, publisher } = await open();
      const projectId = newProject();
      const good = {
        type: 'task.status.changed',
        data: { taskId: 't1', from: null, to: 'planning' },
      };
      const err = await publisher
        .publishUnchecked(projectId, [good, { type: 'nope', data: {} }], 'test')
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(GatewayError);
      expect((err as GatewayError).details).toEqual(
        expect.arrayContaining([expect.objectContaining({ path: '[1].type' })]),
      );
      expect((await store.readLatest({ projectId }, 10)).events).toEqual([]);
      const stored = await publisher.publishUnchecked(projectId, [good, good], 'svc');
      expect(stored).toHaveLength(2);
      expect(compareStreamIds(stored[0].id, stored[1].id)).toBeLessThan(0);
      expect(stored[0].source).toBe('svc');
    });

    it('refuses more than 100 events in one publish', async () => {
      const { publisher } = await open();
      const projectId = newProject();
      const many = Array.from({ length: 101 }, (_, i) => task(projectId, `t${i}`, 'planning'));
      await expect(publisher.publishMany(many)).rejects.toMatchObject({
        code: 'PAYLOAD_TOO_LARGE',
      });
    });

    it('reads after an id in order, exclusive, with paging', async () => {
      const { store, publisher } = await open();
      const projectId = newProject();
      const ids: string[] = [];
      for (let i = 0; i < 5; i++)
        ids.push((await publisher.publish(task(projectId, `t${i}`, 'planning'))).id);
      const all = await store.readAfter({ projectId }, '0-0', 100);
      expect(all).toMatchObject({ held: true, lastId: ids[4], hasMore: false });
      expect(all.held && all.events.map((e) => e.id)).toEqual(ids);
      const tail = await store.readAfter({ projectId }, ids[1], 2);
      expect(tail.held && tail.events.map((e) => e.id)).toEqual([ids[2], ids[3]]);
      expect(tail.held && tail.hasMore).toBe(true);
      const none = await store.readAfter({ projectId }, ids[4], 10);
      expect(none).toMatchObject({ held: true, events: [], hasMore: false });
      const latest = await store.readLatest({ projectId }, 2);
      expect(latest.events.map((e) => e.id)).toEqual([ids[3], ids[4]]);
      expect(latest.hasMore).toBe(true);
    });

    it('reads ids and types alone after an id, with the same paging and the same held rule', async () => {
      const { store, publisher } = await open({ maxEvents: 5 });
      const projectId = newProject();
      const ids: string[] = [];
      for (let i = 0; i < 7; i++)
        ids.push((await publisher.publish(task(projectId, `t${i}`, 'planning'))).id);
      const page = await store.readTypesAfter({ projectId }, ids[2], 3);
      expect(page).toEqual({
        held: true,
        lastId: ids[6],
        hasMore: true,
        entries: ids.slice(3, 6).map((id) => ({ id, type: 'task.status.changed' })),
      });
      expect(await store.readTypesAfter({ projectId }, '0-0', 3)).toEqual({
        held: false,
        heldAfter: ids[1],
      });
    });

    it('caps history and says when an id is no longer held or was never issued', async () => {
      const { store, publisher } = await open({ maxEvents: 5 });
      const projectId = newProject();
      const ids: string[] = [];
      for (let i = 0; i < 8; i++)
        ids.push((await publisher.publish(task(projectId, `t${i}`, 'planning'))).id);
      // ids[0..2] were trimmed: resuming after ids[2] still misses nothing.
      const fromLastTrimmed = await store.readAfter({ projectId }, ids[2], 100);
      expect(fromLastTrimmed.held && fromLastTrimmed.events.map((e) => e.id)).toEqual(ids.slice(3));
      // Not held, and where held history begins: after the highest trimmed id.
      const notHeld = { held: false, heldAfter: ids[2] };
      expect(await store.readAfter({ projectId }, ids[1], 100)).toEqual(notHeld);
      expect(await store.readAfter({ projectId }, '0-0', 100)).toEqual(notHeld);
      const [ms] = ids[7].split('-');
      expect(await store.readAfter({ projectId }, `${Number(ms) + 1000}-0`, 100)).toEqual(notHeld);
      expect(await store.readAfter({ projectId: newProject() }, ids[3], 100)).toEqual({
        held: false,
      });
    });

    it('counts an id between two entries as never issued', async () => {
      const { store, publisher } = await open();
      const projectId = newProject();
      const first = await publisher.publish(task(projectId, 't1', 'planning'));
      const [ms, seq] = first.id.split('-').map(Number);
      // Stream ids take their first part from the clock: once it has moved on,
      // the next id is in a later millisecond and "ms-(seq+1)" is never issued.
      while (Date.now() <= ms) await Promise.resolve();
      const second = await publisher.publish(task(projectId, 't2', 'planning'));
      const between = `${ms}-${seq + 1}`;
      expect(compareStreamIds(first.id, between)).toBeLessThan(0);
      expect(compareStreamIds(between, second.id)).toBeLessThan(0);
      expect(await store.readAfter({ projectId }, between, 100)).toMatchObject({ held: false });
      expect(await store.readAfter({ projectId }, first.id, 100)).toMatchObject({ held: true });
    });

    it('keeps the latest event per entity in a snapshot consistent with its position', async () => {
      const { store, publisher } = await open();
      const projectId = newProject();
      await publisher.publish(task(projectId, 't1', 'planning'));
      await publisher.publish({
        type: 'task.status.changed',
        projectId,
        data: { taskId: 't1', from: 'planning', to: 'active' },
      });
      await publisher.publish({
        type: 'subtask.unblocked',
        projectId,
        data: { subtaskId: 's1', taskId: 't1', unblockedBy: 's0' },
      });
      await publisher.publish({
        type: 'agent.run.log',
        projectId,
        data: { runId: 'r1', line: 'hi', lineNumber: 1 },
      });
      const sample = await publisher.publish({
        type: 'system.resource.sampled',
        projectId,
        data: { host: 'node-1', cpuPercent: 12.5, memoryPercent: 40 },
      });
      const { position, snapshot } = await store.snapshot(projectId);
      expect(position).toBe(sample.id);
      expect(Object.keys(snapshot).sort()).toEqual(['host:node-1', 'task:t1']);
      expect(snapshot['task:t1']).toMatchObject({ data: { to: 'active' } });
      expect(snapshot['host:node-1']).toEqual(sample);
    });

    it('lets ended entities age out of the snapshot', async () => {
      const { store, publisher } = await open({ endedTtlSeconds: 0 });
      const projectId = newProject();
      await publisher.publish(task(projectId, 'done1', 'done'));
      await publisher.publish(task(projectId, 'live1', 'active'));
      const { snapshot } = await store.snapshot(projectId);
      expect(Object.keys(snapshot)).toEqual(['task:live1']);
    });

    it('within one batch, lets each entity’s last event decide its snapshot entry and whether it has ended', async () => {
      const { store, publisher } = await open({ endedTtlSeconds: 0 });
      const projectId = newProject();
      const stored = await publisher.publishMany([
        task(projectId, 'finished', 'active'),
        task(projectId, 'reopened', 'done'),
        task(projectId, 'finished', 'done'),
        task(projectId, 'reopened', 'active'),
        task(projectId, 'untouched', 'planning'),
      ]);
      const { position, snapshot } = await store.snapshot(projectId);
      expect(position).toBe(stored[4].id);
      expect(snapshot).toEqual({ 'task:reopened': stored[3], 'task:untouched': stored[4] });

      // And an entity that ended in an earlier batch is open again after a later one.
      const later = await publisher.publishMany([
        task(projectId, 'finished', 'active'),
        task(projectId, 'reopened', 'done'),
      ]);
      expect((await store.snapshot(projectId)).snapshot).toEqual({
        'task:finished': later[0],
        'task:untouched': stored[4],
      });
    });

    it('keeps log lines in their run stream, not the project stream', async () => {
      const { store, publisher } = await open({ maxLogLines: 3 });
      const projectId = newProject();
      const logs: string[] = [];
      for (let i = 1; i <= 4; i++) {
        const e = await publisher.publish({
          type: 'agent.run.log',
          projectId,
          data: { runId: 'r1', line: `line ${i}`, lineNumber: i },
        });
        logs.push(e.id);
      }
      expect((await store.readLatest({ projectId }, 10)).events).toEqual([]);
      const run = await store.readAfter({ projectId, runId: 'r1' }, logs[0], 10);
      expect(run.held && run.events.map((e) => (e.data as { line: string }).line)).toEqual([
        'line 2',
        'line 3',
        'line 4',
      ]);
      // The first line was trimmed (the run keeps 3): held history begins after it.
      expect(await store.readAfter({ projectId, runId: 'r1' }, '0-0', 10)).toEqual({
        held: false,
        heldAfter: logs[0],
      });
    });

    it('listens to a project only while it has subscribers', async () => {
      const { store } = await open();
      const projectId = newProject();
      const a = await store.subscribe(projectId, '*', () => undefined);
      const b = await store.subscribe(projectId, 'task.*', () => undefined);
      expect(store.listeningProjects()).toContain(projectId);
      await store.unsubscribe(a);
      expect(store.listeningProjects()).toContain(projectId);
      await store.unsubscribe(b);
      expect(store.listeningProjects()).not.toContain(projectId);
    });

    it('delivers concurrent publishes to a subscriber in id order, each once', async () => {
      const { store, publisher } = await open();
      const projectId = newProject();
      const c = collector();
      await store.subscribe(projectId, '*', c.handler);
      const published = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          publisher.publish(task(projectId, `t${i}`, 'planning')),
        ),
      );
      const got = await c.waitFor(50);
      const ids = got.map((e) => e.id);
      expect(ids).toEqual([...ids].sort(compareStreamIds));
      expect(new Set(ids)).toEqual(new Set(published.map((e) => e.id)));
    });

    it('hands each live batch over with its JSON text, exactly JSON.stringify of its events', async () => {
      const { store, publisher } = await open();
      const projectId = newProject();
      const c = collector();
      await store.subscribe(projectId, '*', c.handler);
      // Text a serializer might write differently: escapes, non-ASCII, line separators, numbers.
      await publisher.publishMany([
        {
          type: 'agent.run.log',
          projectId,
          data: { runId: 'r1', line: 'ünïcødé "quoted" \\ \u2028 😀 \t</script>', lineNumber: 1 },
        },
        {
          type: 'system.resource.sampled',
          projectId,
          data: { host: 'h1', cpuPercent: 12.5, memoryPercent: 1e-7 },
        },
      ]);
      await c.waitFor(2);
      expect(c.batches).toHaveLength(1);
      const [batch] = c.batches;
      expect(batch.text).toBe(JSON.stringify(batch.events));
      expect(JSON.parse(batch.text!)).toEqual(c.received);
    });

    it("keeps each owner's open entities: an agent's commands until each ends, without the snapshot", async () => {
      const { store, publisher } = await open();
      const projectId = newProject();
      const command = (type: string, commandId: string, agentId: string, extra = {}) => ({
        type,
        projectId,
        data: { commandId, agentId, ...extra },
      });
      const requested = (commandId: string, agentId: string) =>
        command('command.requested', commandId, agentId, {
          command: 'agent.instruct',
          args: { text: 'go' },
          requestedBy: 'op',
          expiresAt: new Date(Date.now() + 60_000).toISOString(),
        });
      const openOf = async (agentId: string) =>
        (await store.readOpen(projectId, `agent:${agentId}`))
          .map((e) => `${(e.data as { commandId: string }).commandId}:${e.type}`)
          .sort();
      await publisher.publishUnchecked(
        projectId,
        [requested('c1', 'a1'), requested('c2', 'a1'), requested('c3', 'a2')],
        'svc',
      );
      expect(await openOf('a1')).toEqual(['c1:command.requested', 'c2:command.requested']);
      expect(await openOf('a2')).toEqual(['c3:command.requested']);
      // The latest state of each: accepted.
      await publisher.publishUnchecked(projectId, [command('command.accepted', 'c1', 'a1')], 'svc');
      expect(await openOf('a1')).toEqual(['c1:command.accepted', 'c2:command.requested']);
      // Ended ones leave the index (they stay in the snapshot until they age out).
      await publisher.publishUnchecked(
        projectId,
        [
          command('command.completed', 'c1', 'a1', { result: 'ok' }),
          command('command.expired', 'c2', 'a1'),
        ],
        'svc',
      );
      expect(await openOf('a1')).toEqual([]);
      expect(Object.keys((await store.snapshot(projectId)).snapshot)).toContain('command:c1');
      expect(await openOf('a2')).toEqual(['c3:command.requested']);
      expect(await store.readOpen(projectId, 'agent:nobody')).toEqual([]);
      // Entities without an owner are not indexed anywhere.
      await publisher.publishUnchecked(projectId, [task(projectId, 't1', 'active')], 'svc');
      expect(await store.readOpen(projectId, 'task:t1')).toEqual([]);
    });

    it('appends on a condition: the entity at its expected version, or new when none is expected', async () => {
      const { store, publisher } = await open();
      const projectId = newProject();
      const publish = (to: 'planning' | 'active' | 'done', version: string | null) =>
        publisher.publishUnchecked(projectId, [task(projectId, 't1', to)], 'svc', [
          { entityKey: 'task:t1', version },
        ]);
      const [created] = await publish('planning', null);
      const [moved] = await publish('active', created.id);
      expect(await store.snapshot(projectId)).toMatchObject({
        snapshot: { 'task:t1': { id: moved.id, data: { to: 'active' } } },
      });
    });

    it('refuses a stale or wrong expectation with CONFLICT, the current state, and nothing appended', async () => {
      const { store, publisher } = await open();
      const projectId = newProject();
      const c = collector();
      await store.subscribe(projectId, '*', c.handler);
      const [created] = await publisher.publishUnchecked(
        projectId,
        [task(projectId, 't1', 'planning')],
        'svc',
        [{ entityKey: 'task:t1', version: null }],
      );
      const [moved] = await publisher.publishUnchecked(
        projectId,
        [task(projectId, 't1', 'active')],
        'svc',
      );
      for (const version of [created.id, null, '1-0']) {
        const err = await publisher
          .publishUnchecked(projectId, [task(projectId, 't1', 'done')], 'svc', [
            { entityKey: 'task:t1', version },
          ])
          .catch((e: unknown) => e);
        expect(err).toMatchObject({
          code: 'CONFLICT',
          details: { entityKey: 'task:t1', version: moved.id, current: moved },
        });
      }
      // An entity that does not exist is at no version.
      await expect(
        publisher.publishUnchecked(projectId, [task(projectId, 't2', 'active')], 'svc', [
          { entityKey: 'task:t2', version: moved.id },
        ]),
      ).rejects.toMatchObject({
        code: 'CONFLICT',
        details: { entityKey: 'task:t2', version: null, current: null },
      });
      expect((await store.readLatest({ projectId }, 10)).events).toEqual([created, moved]);
      await c.waitFor(2);
      expect(c.received).toEqual([created, moved]);
    });

    it('lets exactly one of many writers racing on one version win', async () => {
      const { store, publisher } = await open();
      const projectId = newProject();
      const created = await publisher.publish(task(projectId, 't1', 'planning'));
      const results = await Promise.allSettled(
        Array.from({ length: 20 }, () =>
          publisher.publishUnchecked(projectId, [task(projectId, 't1', 'active')], 'svc', [
            { entityKey: 'task:t1', version: created.id },
          ]),
        ),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const r of results.filter((r) => r.status === 'rejected')) {
        expect(r.reason).toMatchObject({ code: 'CONFLICT' });
      }
      expect((await store.readLatest({ projectId }, 10)).events).toHaveLength(2);
    });

    it('reads the latest event of each entity named, null for one it does not hold', async () => {
      const { store, publisher } = await open();
      const projectId = newProject();
      const created = await publisher.publish(task(projectId, 't1', 'planning'));
      const moved = await publisher.publish(task(projectId, 't1', 'active'));
      expect(await store.readEntities(projectId, ['task:t1', 'task:none', 'task:t1'])).toEqual([
        moved,
        null,
        moved,
      ]);
      expect(created.id).not.toBe(moved.id);
      expect(await store.readEntities(projectId, [])).toEqual([]);
    });

    it('does not hold an ended entity past its time for a read or a condition', async () => {
      const { store, publisher } = await open({ endedTtlSeconds: 0 });
      const projectId = newProject();
      await publisher.publish(task(projectId, 't1', 'done'));
      expect(await store.readEntities(projectId, ['task:t1'])).toEqual([null]);
      await publisher.publishUnchecked(projectId, [task(projectId, 't1', 'planning')], 'svc', [
        { entityKey: 'task:t1', version: null },
      ]);
    });

    const claim = (key: string, fingerprint = 'f1', answer = '{"a":1}') => ({
      key,
      fingerprint,
      answer,
      ttlMs: 60_000,
    });

    it('appends once per idempotency key: a second claim gets the first record and appends nothing', async () => {
      const { store, publisher } = await open();
      const projectId = newProject();
      const first = await publisher.publishOnce(
        projectId,
        [task(projectId, 't1', 'planning')],
        'svc',
        claim('k1'),
      );
      expect(first).toMatchObject({ replayed: false, answer: { a: 1 } });
      expect(first.ids).toHaveLength(1);
      // Replayed even though the body would now conflict: the record is checked first.
      const again = await publisher.publishOnce(
        projectId,
        [task(projectId, 't1', 'planning')],
        'svc',
        claim('k1'),
        [{ entityKey: 'task:t1', version: null }],
      );
      expect(again).toEqual({ replayed: true, answer: { a: 1 }, ids: first.ids });
      expect(await store.readIdempotency(projectId, 'k1')).toEqual({
        fingerprint: 'f1',
        answer: '{"a":1}',
        ids: first.ids,
      });
      expect(await store.readIdempotency(projectId, 'k2')).toBeNull();
      // Records are per project.
      expect(await store.readIdempotency(newProject(), 'k1')).toBeNull();
      expect((await store.readLatest({ projectId }, 10)).events).toHaveLength(1);
    });

    it('refuses a key claimed for another request with IDEMPOTENCY_MISMATCH and appends nothing', async () => {
      const { store, publisher } = await open();
      const projectId = newProject();
      await publisher.publishOnce(
        projectId,
        [task(projectId, 't1', 'planning')],
        'svc',
        claim('k'),
      );
      await expect(
        publisher.publishOnce(
          projectId,
          [task(projectId, 't2', 'planning')],
          'svc',
          claim('k', 'other'),
        ),
      ).rejects.toMatchObject({ code: 'IDEMPOTENCY_MISMATCH' });
      await expect(
        publisher.replayOf(projectId, { key: 'k', fingerprint: 'other' }),
      ).rejects.toMatchObject({ code: 'IDEMPOTENCY_MISMATCH' });
      expect((await store.readLatest({ projectId }, 10)).events).toHaveLength(1);
    });

    it('records nothing for a refused write, so its retry is judged afresh', async () => {
      const { store, publisher } = await open();
      const projectId = newProject();
      await expect(
        publisher.publishOnce(projectId, [task(projectId, 't1', 'active')], 'svc', claim('k'), [
          { entityKey: 'task:t1', version: '1-0' },
        ]),
      ).rejects.toMatchObject({ code: 'CONFLICT' });
      expect(await store.readIdempotency(projectId, 'k')).toBeNull();
      const retried = await publisher.publishOnce(
        projectId,
        [task(projectId, 't1', 'active')],
        'svc',
        claim('k'),
      );
      expect(retried.replayed).toBe(false);
    });

    it('lets exactly one of many twins racing with one key publish, the others replaying it', async () => {
      const { store, publisher } = await open();
      const projectId = newProject();
      const results = await Promise.all(
        Array.from({ length: 20 }, () =>
          publisher.publishOnce(projectId, [task(projectId, 't1', 'planning')], 'svc', claim('k')),
        ),
      );
      expect(results.filter((r) => !r.replayed)).toHaveLength(1);
      expect(new Set(results.map((r) => r.ids[0])).size).toBe(1);
      expect((await store.readLatest({ projectId }, 10)).events).toHaveLength(1);
    });

    it('forgets a record after its time', async () => {
      const { store, publisher } = await open();
      const projectId = newProject();
      await publisher.publishOnce(projectId, [task(projectId, 't1', 'planning')], 'svc', {
        ...claim('k'),
        ttlMs: 1,
      });
      await eventually(async () => (await store.readIdempotency(projectId, 'k')) === null);
      const again = await publisher.publishOnce(
        projectId,
        [task(projectId, 't1', 'planning')],
        'svc',
        claim('k'),
      );
      expect(again.replayed).toBe(false);
    });

    it('gives a pattern subscriber only its events, and no text once the batch was filtered', async () => {
      const { store, publisher } = await open();
      const projectId = newProject();
      const tasks = collector();
      await store.subscribe(projectId, 'task.*', tasks.handler);
      await publisher.publishMany([
        task(projectId, 't1', 'planning'),
        {
          type: 'system.resource.sampled',
          projectId,
          data: { host: 'h', cpuPercent: 1, memoryPercent: 2 },
        },
      ]);
      await tasks.waitFor(1);
      expect(tasks.batches).toHaveLength(1);
      expect(tasks.batches[0].events.map((e) => e.type)).toEqual(['task.status.changed']);
      expect(tasks.batches[0].text).toBeUndefined();
    });
  });
}
