import { GatewayError } from '../../src/core/errors.js';
import { EVENT_REGISTRY, EVENT_TYPES } from '../../src/core/registry.js';
import { validateEvent } from '../../src/core/validate-event.js';
import { VALID_EVENT_DATA } from '../support/sample-events.js';

const NOW = new Date('2026-11-21T10:00:00.000Z');
const valid = VALID_EVENT_DATA;

function problems(input: unknown): { path: string; problem: string }[] {
  try {
    validateEvent(input, 'tests', NOW);
  } catch (err) {
    expect(err).toBeInstanceOf(GatewayError);
    expect((err as GatewayError).code).toBe('INVALID_PAYLOAD');
    return (err as GatewayError).details as { path: string; problem: string }[];
  }
  throw new Error('expected the event to be rejected');
}

describe('event registry and validation', () => {
  it('has exactly the types of the design doc', () => {
    expect(EVENT_TYPES.sort()).toEqual(Object.keys(valid).sort());
  });

  it.each(Object.entries(valid))('accepts a valid %s and stamps it', (type, data) => {
    const e = validateEvent({ type, projectId: 'p1', data }, 'tests', NOW);
    expect(e).toMatchObject({
      type,
      projectId: 'p1',
      occurredAt: NOW.toISOString(),
      source: 'tests',
      data,
    });
  });

  it('gives each type its entity key and ended rule', () => {
    const key = (type: string) =>
      validateEvent({ type, projectId: 'p', data: valid[type] }, 's', NOW);
    expect(key('task.status.changed')).toMatchObject({ entityKey: 'task:t1', ends: false });
    expect(key('subtask.status.changed').entityKey).toBe('subtask:s1');
    expect(key('agent.status.changed').entityKey).toBe('agent:a1');
    expect(key('agent.run.started').entityKey).toBe('run:r1');
    expect(key('agent.run.completed')).toMatchObject({ entityKey: 'run:r1', ends: true });
    expect(key('agent.run.failed')).toMatchObject({ entityKey: 'run:r1', ends: true });
    expect(key('system.resource.sampled').entityKey).toBe('host:worker-1.local');
    expect(key('subtask.unblocked').entityKey).toBeNull();
    expect(key('agent.run.log')).toMatchObject({ entityKey: null, runId: 'r1' });
    const done = validateEvent(
      {
        type: 'task.status.changed',
        projectId: 'p',
        data: { taskId: 't', from: 'active', to: 'done' },
      },
      's',
      NOW,
    );
    expect(done.ends).toBe(true);
    expect(key('agent.presence.changed')).toMatchObject({ entityKey: 'presence:a1', ends: false });
    expect(key('command.requested')).toMatchObject({ entityKey: 'command:c1', ends: false });
    expect(key('command.accepted')).toMatchObject({ entityKey: 'command:c1', ends: false });
    for (const final of ['completed', 'failed', 'interrupted', 'expired']) {
      expect(key(`command.${final}`)).toMatchObject({ entityKey: 'command:c1', ends: true });
    }
    expect(Object.keys(EVENT_REGISTRY)).toHaveLength(16);
  });

  it('uses the given source over the default', () => {
    expect(
      validateEvent(
        {
          type: 'subtask.unblocked',
          projectId: 'p',
          data: valid['subtask.unblocked'],
          source: 'tasks',
        },
        'x',
        NOW,
      ).source,
    ).toBe('tasks');
  });

  it.each([
    ['unknown type', { type: 'task.exploded', projectId: 'p', data: {} }, 'type'],
    ['missing data', { type: 'task.status.changed', projectId: 'p' }, 'data'],
    [
      'bad projectId',
      { type: 'task.status.changed', projectId: 'p/1', data: valid['task.status.changed'] },
      'projectId',
    ],
    [
      'unknown envelope key',
      {
        type: 'task.status.changed',
        projectId: 'p',
        data: valid['task.status.changed'],
        id: '1-0',
      },
      'id',
    ],
    [
      'bad source',
      {
        type: 'task.status.changed',
        projectId: 'p',
        data: valid['task.status.changed'],
        source: 'a b',
      },
      'source',
    ],
    [
      'unknown data field',
      {
        type: 'task.status.changed',
        projectId: 'p',
        data: { ...valid['task.status.changed'], extra: 1 },
      },
      'data.extra',
    ],
    [
      'missing from',
      { type: 'task.status.changed', projectId: 'p', data: { taskId: 't', to: 'done' } },
      'data.from',
    ],
    [
      'bad status',
      {
        type: 'task.status.changed',
        projectId: 'p',
        data: { taskId: 't', from: null, to: 'finished' },
      },
      'data.to',
    ],
    [
      'subtask status on a task',
      {
        type: 'task.status.changed',
        projectId: 'p',
        data: { taskId: 't', from: null, to: 'merged' },
      },
      'data.to',
    ],
    [
      'cpu over 100',
      {
        type: 'system.resource.sampled',
        projectId: 'p',
        data: { host: 'h', cpuPercent: 100.1, memoryPercent: 1 },
      },
      'data.cpuPercent',
    ],
    [
      'NaN-ish cpu',
      {
        type: 'system.resource.sampled',
        projectId: 'p',
        data: { host: 'h', cpuPercent: '5', memoryPercent: 1 },
      },
      'data.cpuPercent',
    ],
    [
      'negative queue',
      {
        type: 'system.resource.sampled',
        projectId: 'p',
        data: { host: 'h', cpuPercent: 1, memoryPercent: 1, queueDepth: -1 },
      },
      'data.queueDepth',
    ],
    [
      'line number 0',
      { type: 'agent.run.log', projectId: 'p', data: { runId: 'r', line: 'x', lineNumber: 0 } },
      'data.lineNumber',
    ],
    [
      'line over 8 KiB',
      {
        type: 'agent.run.log',
        projectId: 'p',
        data: { runId: 'r', line: 'é'.repeat(4097), lineNumber: 1 },
      },
      'data.line',
    ],
    [
      'non-boolean willRetry',
      {
        type: 'agent.run.failed',
        projectId: 'p',
        data: { runId: 'r', agentId: 'a', error: 'e', willRetry: 'yes' },
      },
      'data.willRetry',
    ],
    [
      '65-char id',
      {
        type: 'subtask.unblocked',
        projectId: 'p',
        data: { subtaskId: 's'.repeat(65), taskId: 't', unblockedBy: 'u' },
      },
      'data.subtaskId',
    ],
    [
      '__proto__ in data',
      {
        type: 'subtask.unblocked',
        projectId: 'p',
        data: JSON.parse('{"subtaskId":"s","taskId":"t","unblockedBy":"u","__proto__":{"x":1}}'),
      },
      'data',
    ],
  ])('rejects %s, naming the field', (_what, input, path) => {
    expect(problems(input).map((p) => p.path)).toEqual(
      expect.arrayContaining([expect.stringContaining(path)]),
    );
  });

  it('rejects non-objects', () => {
    for (const input of [null, 'x', 42, [valid]]) expect(problems(input)).toHaveLength(1);
  });

  it('accepts exactly 8 KiB of UTF-8 in a log line', () => {
    const line = 'é'.repeat(4096);
    expect(
      validateEvent(
        { type: 'agent.run.log', projectId: 'p', data: { runId: 'r', line, lineNumber: 1 } },
        's',
        NOW,
      ).data,
    ).toMatchObject({ line });
  });
});
