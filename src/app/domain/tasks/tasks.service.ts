import { Inject, Injectable } from '@nestjs/common';
import type { EventEnvelope, PublishInput } from '../../../core/envelope.js';
import { GatewayError } from '../../../core/errors.js';
import { conflictWith } from '../../../core/event-store.port.js';
import { shortId } from '../../../core/ids.js';
import type { WriteOutcome } from '../../../core/idempotency.js';
import type {
  SubtaskStatus,
  SubtaskStatusChanged,
  TaskStatus,
  TaskStatusChanged,
} from '../../../core/payloads.js';
import { DomainWrites, type WriteOptions } from '../domain-writes.js';
import { canMoveSubtask, canMoveTask } from './transitions.js';

export interface TaskAnswer {
  taskId: string;
  status: TaskStatus;
}
export interface SubtaskAnswer {
  subtaskId: string;
  taskId: string;
  status: SubtaskStatus;
}

/** A subtask as the task read shows it. */
export interface SubtaskView extends SubtaskAnswer {
  /** Subtasks it still waits for (only while blocked). */
  dependsOn: string[];
  version: string;
}
/** A task as `GET` shows it: its status, version (`ETag`) and subtasks. */
export interface TaskView extends TaskAnswer {
  version: string;
  subtasks: SubtaskView[];
}

export const taskKey = (taskId: string) => `task:${taskId}`;
export const subtaskKey = (subtaskId: string) => `subtask:${subtaskId}`;

/**
 * The example domain's tasks and subtasks. Nothing is kept in this process:
 * a task's state is its latest `task.status.changed` in the store's snapshot,
 * a subtask's its latest `subtask.status.changed` (which carries what a
 * blocked subtask waits for), and every change is a conditional append on
 * the entities it was decided on (`DomainWrites`), so any replica answers
 * the same and two racing writers cannot both win.
 */
@Injectable()
export class TasksService {
  constructor(@Inject(DomainWrites) private readonly writes: DomainWrites) {}

  createTask(
    projectId: string,
    taskId: string = shortId('t'),
    options: WriteOptions = {},
  ): Promise<WriteOutcome<TaskAnswer>> {
    const key = taskKey(taskId);
    return this.writes.write(projectId, key, options, async (reads) => {
      const [current] = await reads.entities([key]);
      if (current) throw conflictWith(key, current, `task ${taskId} exists`);
      return {
        events: [
          { type: 'task.status.changed', projectId, data: { taskId, from: null, to: 'planning' } },
        ],
        answer: { taskId, status: 'planning' },
      };
    });
  }

  moveTask(
    projectId: string,
    taskId: string,
    to: TaskStatus,
    options: WriteOptions = {},
  ): Promise<WriteOutcome<TaskAnswer>> {
    const key = taskKey(taskId);
    return this.writes.write(projectId, key, options, async (reads) => {
      const [current] = await reads.entities([key]);
      const from = taskStatus(current, projectId, taskId);
      if (!canMoveTask(from, to)) {
        throw conflictWith(key, current, `task ${taskId} cannot go from ${from} to ${to}`);
      }
      return {
        events: [{ type: 'task.status.changed', projectId, data: { taskId, from, to } }],
        answer: { taskId, status: to },
      };
    });
  }

  addSubtask(
    projectId: string,
    taskId: string,
    subtaskId: string,
    dependsOn: string[] = [],
    options: WriteOptions = {},
  ): Promise<WriteOutcome<SubtaskAnswer>> {
    const key = subtaskKey(subtaskId);
    const deps = [...new Set(dependsOn)];
    return this.writes.write(projectId, key, options, async (reads) => {
      const [task, current, ...found] = await reads.entities([
        taskKey(taskId),
        key,
        ...deps.map(subtaskKey),
      ]);
      taskStatus(task, projectId, taskId);
      if (current) throw conflictWith(key, current, `subtask ${subtaskId} exists`);
      const pending: string[] = [];
      deps.forEach((dep, i) => {
        const state = subtaskOf(found[i], taskId);
        if (!state)
          throw new GatewayError('NOT_FOUND', `dependency ${dep} is not a subtask of ${taskId}`);
        if (state.to !== 'merged') pending.push(dep);
      });
      const status: SubtaskStatus = pending.length > 0 ? 'blocked' : 'ready';
      return {
        events: [
          {
            type: 'subtask.status.changed',
            projectId,
            data: {
              subtaskId,
              taskId,
              from: null,
              to: status,
              ...(pending.length > 0 ? { dependsOn: pending } : {}),
            },
          },
        ],
        answer: { subtaskId, taskId, status },
      };
    });
  }

  /** Moves a subtask; merging it unblocks the subtasks that then wait for nothing. */
  moveSubtask(
    projectId: string,
    taskId: string,
    subtaskId: string,
    to: SubtaskStatus,
    options: WriteOptions = {},
  ): Promise<WriteOutcome<SubtaskAnswer>> {
    const key = subtaskKey(subtaskId);
    return this.writes.write(projectId, key, options, async (reads) => {
      const [current] = await reads.entities([key]);
      const state = subtaskOf(current, taskId);
      if (!state) throw new GatewayError('NOT_FOUND', `no subtask ${subtaskId} in task ${taskId}`);
      if (!canMoveSubtask(state.to, to)) {
        throw conflictWith(
          key,
          current,
          `subtask ${subtaskId} cannot go from ${state.to} to ${to}`,
        );
      }
      const events: PublishInput[] = [
        {
          type: 'subtask.status.changed',
          projectId,
          data: { subtaskId, taskId, from: state.to, to },
        },
      ];
      if (to === 'merged')
        events.push(...unblocked(await reads.snapshot(), reads, projectId, taskId, subtaskId));
      return { events, answer: { subtaskId, taskId, status: to } };
    });
  }

  /** Every task of the project the snapshot holds, with its subtasks. */
  async listTasks(projectId: string): Promise<TaskView[]> {
    const snapshot = await this.writes.snapshot(projectId);
    const tasks = new Map<string, TaskView>();
    for (const event of Object.values(snapshot)) {
      if (event.type !== 'task.status.changed') continue;
      const { taskId, to } = (event as EventEnvelope<'task.status.changed'>).data;
      tasks.set(taskId, { taskId, status: to, version: event.id, subtasks: [] });
    }
    for (const event of Object.values(snapshot)) {
      if (event.type !== 'subtask.status.changed') continue;
      const data = (event as EventEnvelope<'subtask.status.changed'>).data;
      tasks.get(data.taskId)?.subtasks.push(subtaskView(data, event.id, snapshot));
    }
    return [...tasks.values()];
  }

  /** One task, or NOT_FOUND. */
  async getTask(projectId: string, taskId: string): Promise<TaskView> {
    const found = (await this.listTasks(projectId)).find((t) => t.taskId === taskId);
    if (!found) throw new GatewayError('NOT_FOUND', `no task ${taskId} in project ${projectId}`);
    return found;
  }
}

/** The task's status, or NOT_FOUND. */
function taskStatus(current: EventEnvelope | null, projectId: string, taskId: string): TaskStatus {
  if (current?.type !== 'task.status.changed') {
    throw new GatewayError('NOT_FOUND', `no task ${taskId} in project ${projectId}`);
  }
  return (current.data as TaskStatusChanged).to;
}

/** The subtask's latest state, when it exists and belongs to `taskId`. */
function subtaskOf(current: EventEnvelope | null, taskId: string): SubtaskStatusChanged | null {
  if (current?.type !== 'subtask.status.changed') return null;
  const data = current.data as SubtaskStatusChanged;
  return data.taskId === taskId ? data : null;
}

/**
 * A dependency no longer holds up a subtask once it is merged, or gone from
 * the snapshot: subtasks leave it only by being merged (and ageing out), and
 * a dependency was checked to exist when the subtask was added.
 */
function waitsFor(dep: string, snapshot: Record<string, EventEnvelope>, merging: string): boolean {
  if (dep === merging) return false;
  const state = snapshot[subtaskKey(dep)];
  return state !== undefined && (state.data as SubtaskStatusChanged).to !== 'merged';
}

/**
 * The events that unblock the subtasks of `taskId` which, once `merging` is
 * merged, wait for nothing. Each blocked subtask looked at, and its other
 * dependencies, become conditions of the write: a dependency merged at the
 * same moment on another replica makes one of the two writes read again,
 * so no subtask stays blocked with nothing left to wait for.
 */
function unblocked(
  snapshot: Record<string, EventEnvelope>,
  reads: { expect(key: string, current: EventEnvelope | null): void },
  projectId: string,
  taskId: string,
  merging: string,
): PublishInput[] {
  const events: PublishInput[] = [];
  for (const [key, event] of Object.entries(snapshot)) {
    const data = subtaskOf(event, taskId);
    if (data?.to !== 'blocked' || !data.dependsOn?.includes(merging)) continue;
    reads.expect(key, event);
    for (const dep of data.dependsOn) {
      if (dep !== merging) reads.expect(subtaskKey(dep), snapshot[subtaskKey(dep)] ?? null);
    }
    if (data.dependsOn.some((dep) => waitsFor(dep, snapshot, merging))) continue;
    events.push(
      {
        type: 'subtask.unblocked',
        projectId,
        data: { subtaskId: data.subtaskId, taskId, unblockedBy: merging },
      },
      {
        type: 'subtask.status.changed',
        projectId,
        data: { subtaskId: data.subtaskId, taskId, from: 'blocked', to: 'ready' },
      },
    );
  }
  return events;
}

function subtaskView(
  data: SubtaskStatusChanged,
  version: string,
  snapshot: Record<string, EventEnvelope>,
): SubtaskView {
  const dependsOn =
    data.to === 'blocked' ? (data.dependsOn ?? []).filter((d) => waitsFor(d, snapshot, '')) : [];
  return { subtaskId: data.subtaskId, taskId: data.taskId, status: data.to, dependsOn, version };
}
