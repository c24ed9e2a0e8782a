import type { SubtaskStatus, TaskStatus } from '../../../core/payloads.js';

/** Allowed task status moves; anything else is a CONFLICT. */
export const TASK_TRANSITIONS: Record<TaskStatus, readonly TaskStatus[]> = {
  planning: ['active', 'planning_failed'],
  planning_failed: ['planning'],
  active: ['done'],
  done: [],
};

/** Allowed subtask moves. `blocked -> ready` happens only when dependencies merge. */
export const SUBTASK_TRANSITIONS: Record<SubtaskStatus, readonly SubtaskStatus[]> = {
  blocked: [],
  ready: ['in_progress'],
  in_progress: ['completed', 'failed'],
  failed: ['ready'],
  completed: ['merged'],
  merged: [],
};

export function canMoveTask(from: TaskStatus, to: TaskStatus): boolean {
  return TASK_TRANSITIONS[from].includes(to);
}

export function canMoveSubtask(from: SubtaskStatus, to: SubtaskStatus): boolean {
  return SUBTASK_TRANSITIONS[from].includes(to);
}
