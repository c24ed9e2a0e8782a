import type { EventEnvelope } from './envelope.js';

/** A run in progress, as the snapshot knows it. */
export interface ActiveRun {
  runId: string;
  agentId: string;
  taskId?: string;
  subtaskId?: string;
  /** When its `agent.run.started` was published (ISO 8601). */
  startedAt: string;
}

/**
 * The runs in progress in a project's snapshot: those whose latest event is
 * `agent.run.started` (a completed or failed run's latest event is its end),
 * oldest first. Read from the store, so every replica answers the same.
 */
export function activeRuns(snapshot: Readonly<Record<string, EventEnvelope>>): ActiveRun[] {
  const runs: ActiveRun[] = [];
  for (const [key, event] of Object.entries(snapshot)) {
    if (!key.startsWith('run:') || event.type !== 'agent.run.started') continue;
    const data = event.data as {
      runId: string;
      agentId: string;
      taskId?: string;
      subtaskId?: string;
    };
    runs.push({
      runId: data.runId,
      agentId: data.agentId,
      ...(data.taskId !== undefined ? { taskId: data.taskId } : {}),
      ...(data.subtaskId !== undefined ? { subtaskId: data.subtaskId } : {}),
      startedAt: event.occurredAt,
    });
  }
  return runs.sort(
    (a, b) => a.startedAt.localeCompare(b.startedAt) || a.runId.localeCompare(b.runId),
  );
}
