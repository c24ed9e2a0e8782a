import { Inject, Injectable } from '@nestjs/common';
import { GatewayError } from '../../../core/errors.js';
import { shortId } from '../../../core/ids.js';
import type { PublishInput } from '../../../core/envelope.js';
import { EventPublisher } from '../../../core/publisher.js';
import type { SubtaskStatus, TaskStatus } from '../../../core/payloads.js';
import { canMoveSubtask, canMoveTask } from './transitions.js';

interface Task {
  id: string;
  status: TaskStatus;
  subtasks: Map<string, Subtask>;
}
interface Subtask {
  id: string;
  taskId: string;
  status: SubtaskStatus;
  dependsOn: Set<string>;
}

/**
 * The example domain's tasks and subtasks, one project at a time. State lives
 * in this process (it is an example of a producer); every change goes out as
 * a typed event through the bus, in one all-or-nothing publish.
 */
@Injectable()
export class TasksService {
  private readonly projects = new Map<string, Map<string, Task>>();

  constructor(@Inject(EventPublisher) private readonly bus: EventPublisher) {}

  async createTask(projectId: string, taskId: string = shortId('t')): Promise<Task> {
    const tasks = this.tasksOf(projectId);
    if (tasks.has(taskId)) throw new GatewayError('CONFLICT', `task ${taskId} exists`);
    const task: Task = { id: taskId, status: 'planning', subtasks: new Map() };
    await this.bus.publish({
      type: 'task.status.changed',
      projectId,
      data: { taskId, from: null, to: 'planning' },
    });
    tasks.set(taskId, task);
    return task;
  }

  async moveTask(projectId: string, taskId: string, to: TaskStatus): Promise<void> {
    const task = this.task(projectId, taskId);
    if (!canMoveTask(task.status, to)) {
      throw new GatewayError('CONFLICT', `task ${taskId} cannot go from ${task.status} to ${to}`);
    }
    await this.bus.publish({
      type: 'task.status.changed',
      projectId,
      data: { taskId, from: task.status, to },
    });
    task.status = to;
  }

  async addSubtask(
    projectId: string,
    taskId: string,
    subtaskId: string,
    dependsOn: string[] = [],
  ): Promise<Subtask> {
    const task = this.task(projectId, taskId);
    if (task.subtasks.has(subtaskId))
      throw new GatewayError('CONFLICT', `subtask ${subtaskId} exists`);
    for (const dep of dependsOn) {
      if (!task.subtasks.has(dep))
        throw new GatewayError('NOT_FOUND', `dependency ${dep} is not a subtask of ${taskId}`);
    }
    const pendingDeps = dependsOn.filter((d) => task.subtasks.get(d)?.status !== 'merged');
    const status: SubtaskStatus = pendingDeps.length > 0 ? 'blocked' : 'ready';
    const subtask: Subtask = { id: subtaskId, taskId, status, dependsOn: new Set(pendingDeps) };
    await this.bus.publish({
      type: 'subtask.status.changed',
      projectId,
      data: { subtaskId, taskId, from: null, to: status },
    });
    task.subtasks.set(subtaskId, subtask);
    return subtask;
  }

  /** Moves a subtask; merging it unblocks the subtasks waiting only on it. */
  async moveSubtask(
    projectId: string,
    taskId: string,
    subtaskId: string,
    to: SubtaskStatus,
  ): Promise<void> {
    const task = this.task(projectId, taskId);
    const subtask = task.subtasks.get(subtaskId);
    if (!subtask) throw new GatewayError('NOT_FOUND', `no subtask ${subtaskId} in task ${taskId}`);
    if (!canMoveSubtask(subtask.status, to)) {
      throw new GatewayError(
        'CONFLICT',
        `subtask ${subtaskId} cannot go from ${subtask.status} to ${to}`,
      );
    }
    const events: PublishInput[] = [
      {
        type: 'subtask.status.changed',
        projectId,
        data: { subtaskId, taskId, from: subtask.status, to },
      },
    ];
    const unblocked: Subtask[] = [];
    if (to === 'merged') {
      for (const other of task.subtasks.values()) {
        if (other.status !== 'blocked' || !other.dependsOn.has(subtaskId)) continue;
        if (other.dependsOn.size === 1) {
          unblocked.push(other);
          events.push(
            {
              type: 'subtask.unblocked',
              projectId,
              data: { subtaskId: other.id, taskId, unblockedBy: subtaskId },
            },
            {
              type: 'subtask.status.changed',
              projectId,
              data: { subtaskId: other.id, taskId, from: 'blocked', to: 'ready' },
            },
          );
        }
      }
    }
    await this.bus.publishMany(events);
    subtask.status = to;
    if (to === 'merged') {
      for (const other of task.subtasks.values()) other.dependsOn.delete(subtaskId);
      for (const u of unblocked) u.status = 'ready';
    }
  }

  listTasks(projectId: string): {
    id: string;
    status: TaskStatus;
    subtasks: { id: string; status: SubtaskStatus; dependsOn: string[] }[];
  }[] {
    return [...this.tasksOf(projectId).values()].map((t) => ({
      id: t.id,
      status: t.status,
      subtasks: [...t.subtasks.values()].map((s) => ({
        id: s.id,
        status: s.status,
        dependsOn: [...s.dependsOn],
      })),
    }));
  }

  private task(projectId: string, taskId: string): Task {
    const task = this.tasksOf(projectId).get(taskId);
    if (!task) throw new GatewayError('NOT_FOUND', `no task ${taskId} in project ${projectId}`);
    return task;
  }

  private tasksOf(projectId: string): Map<string, Task> {
    let tasks = this.projects.get(projectId);
    if (!tasks) {
      tasks = new Map();
      this.projects.set(projectId, tasks);
    }
    return tasks;
  }
}
