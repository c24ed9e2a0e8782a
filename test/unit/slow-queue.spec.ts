import type { EventEnvelope } from '../../src/core/envelope.js';
import { SlowQueue, eventBytes } from '../../src/delivery/slow-queue.js';

let n = 0;
const ev = (type: string, data: Record<string, unknown>) =>
  ({
    id: `${1000 + ++n}-0`,
    type,
    projectId: 'p',
    occurredAt: '2026-11-21T10:00:00.000Z',
    source: 'test',
    data,
  }) as unknown as EventEnvelope;
const sample = (host: string, cpuPercent: number) =>
  ev('system.resource.sampled', { host, cpuPercent, memoryPercent: 1 });
const task = (taskId: string, to: string) => ev('task.status.changed', { taskId, from: null, to });

describe('slow viewer queue', () => {
  it('keeps the latest sample per host and status per task, moved to its latest position', () => {
    const q = new SlowQueue();
    const a1 = sample('a', 1);
    const t1 = task('t1', 'planning');
    const b1 = sample('b', 1);
    const a2 = sample('a', 2);
    const t2 = task('t1', 'active');
    expect([a1, t1, b1].map((e) => q.push(e))).toEqual([false, false, false]);
    expect(q.push(a2)).toBe(true);
    expect(q.push(t2)).toBe(true);
    expect(q.length).toBe(3);
    expect(q.merged).toBe(2);
    expect(q.bytes).toBe(eventBytes(b1) + eventBytes(a2) + eventBytes(t2));
    expect(q.take()).toEqual([b1, a2, t2]);
    expect(q.length).toBe(0);
    expect(q.bytes).toBe(0);
  });

  it('keeps every event that is not a latest-state update', () => {
    const q = new SlowQueue();
    const events = [
      ev('agent.run.started', { runId: 'r1', agentId: 'a', agentType: 'worker', taskId: 't' }),
      ev('agent.run.completed', { runId: 'r1', agentId: 'a', durationMs: 1 }),
      ev('subtask.unblocked', { subtaskId: 's', taskId: 't', unblockedBy: 'x' }),
      ev('subtask.unblocked', { subtaskId: 's', taskId: 't', unblockedBy: 'x' }),
    ];
    for (const e of events) expect(q.push(e)).toBe(false);
    expect(q.take()).toEqual(events);
  });

  it('merges agent and subtask statuses per entity, not across entities', () => {
    const q = new SlowQueue();
    q.push(ev('agent.status.changed', { agentId: 'a', status: 'busy' }));
    q.push(ev('agent.status.changed', { agentId: 'b', status: 'busy' }));
    q.push(ev('subtask.status.changed', { subtaskId: 's', taskId: 't', from: null, to: 'ready' }));
    q.push(ev('agent.status.changed', { agentId: 'a', status: 'idle' }));
    q.push(
      ev('subtask.status.changed', { subtaskId: 's', taskId: 't', from: 'ready', to: 'merged' }),
    );
    const out = q.take();
    expect(out.map((e) => e.data)).toEqual([
      { agentId: 'b', status: 'busy' },
      { agentId: 'a', status: 'idle' },
      { subtaskId: 's', taskId: 't', from: 'ready', to: 'merged' },
    ]);
  });
});
