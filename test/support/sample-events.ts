/** A valid `data` for every event type of the design doc. */
export const VALID_EVENT_DATA: Record<string, Record<string, unknown>> = {
  'agent.status.changed': { agentId: 'a1', status: 'busy', previousStatus: 'idle' },
  'agent.run.started': {
    runId: 'r1',
    agentId: 'a1',
    agentType: 'worker',
    taskId: 't1',
    subtaskId: 's1',
  },
  'agent.run.log': { runId: 'r1', line: 'hello', lineNumber: 1, level: 'info' },
  'agent.run.completed': {
    runId: 'r1',
    agentId: 'a1',
    durationMs: 1200,
    prUrl: 'https://x.test/pr/1',
  },
  'agent.run.failed': { runId: 'r1', agentId: 'a1', error: 'boom', willRetry: true },
  'task.status.changed': { taskId: 't1', from: null, to: 'planning' },
  'subtask.status.changed': { subtaskId: 's1', taskId: 't1', from: 'ready', to: 'in_progress' },
  'subtask.unblocked': { subtaskId: 's2', taskId: 't1', unblockedBy: 's1' },
  'system.resource.sampled': {
    host: 'worker-1.local',
    cpuPercent: 12.5,
    memoryPercent: 99,
    queueDepth: 0,
  },
};
