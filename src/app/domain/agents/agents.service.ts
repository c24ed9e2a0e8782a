import { Inject, Injectable } from '@nestjs/common';
import type { EventEnvelope } from '../../../core/envelope.js';
import { GatewayError } from '../../../core/errors.js';
import { conflictWith } from '../../../core/event-store.port.js';
import { shortId } from '../../../core/ids.js';
import type { WriteOutcome } from '../../../core/idempotency.js';
import type {
  AgentRunLog,
  AgentRunStarted,
  AgentStatus,
  AgentStatusChanged,
} from '../../../core/payloads.js';
import { DomainWrites, type WriteOptions } from '../domain-writes.js';

export interface StartRun {
  agentId: string;
  agentType: 'planner' | 'worker';
  taskId: string;
  subtaskId?: string;
  runId?: string;
}

export interface RunAnswer {
  runId: string;
  agentId: string;
}
export interface LogAnswer {
  runId: string;
  lineNumber: number;
}

export const agentKey = (agentId: string) => `agent:${agentId}`;
export const runKey = (runId: string) => `run:${runId}`;

/**
 * Agents and their runs: starting a run makes the agent busy, log lines are
 * numbered per run, and a run ends completed or failed (with or without a
 * retry), leaving the agent idle or in error. State is the store's: an
 * agent's is its latest `agent.status.changed`, a run is active while its
 * latest event is `agent.run.started` (`DomainWrites` for the rest).
 */
@Injectable()
export class AgentsService {
  constructor(@Inject(DomainWrites) private readonly writes: DomainWrites) {}

  startRun(
    projectId: string,
    start: StartRun,
    options: WriteOptions = {},
  ): Promise<WriteOutcome<RunAnswer>> {
    const runId = start.runId ?? shortId('run');
    const { agentId } = start;
    return this.writes.write(projectId, agentKey(agentId), options, async (reads) => {
      const [agent, run] = await reads.entities([agentKey(agentId), runKey(runId)]);
      if (run) throw conflictWith(runKey(runId), run, `run ${runId} exists`);
      const previous = agent ? (agent.data as AgentStatusChanged).status : undefined;
      if (previous === 'busy')
        throw conflictWith(agentKey(agentId), agent, `agent ${agentId} is busy`);
      return {
        events: [
          {
            type: 'agent.status.changed',
            projectId,
            data: { agentId, status: 'busy', ...(previous ? { previousStatus: previous } : {}) },
          },
          {
            type: 'agent.run.started',
            projectId,
            data: {
              runId,
              agentId,
              agentType: start.agentType,
              taskId: start.taskId,
              ...(start.subtaskId ? { subtaskId: start.subtaskId } : {}),
            },
          },
        ],
        answer: { runId, agentId },
      };
    });
  }

  /**
   * Appends a log line numbered after the run's last one. Two writers on one
   * run's log at the same instant may both take the same number (the log
   * stream is not a condition of the append); the stream's ids order them.
   */
  log(
    projectId: string,
    runId: string,
    line: string,
    level?: 'debug' | 'info' | 'warn' | 'error',
    options: WriteOptions = {},
  ): Promise<WriteOutcome<LogAnswer>> {
    return this.writes.write(projectId, runKey(runId), options, async (reads) => {
      await activeRun(reads, projectId, runId);
      const last = await reads.lastLogLine(runId);
      const lineNumber = last ? (last.data as AgentRunLog).lineNumber + 1 : 1;
      return {
        events: [
          {
            type: 'agent.run.log',
            projectId,
            data: { runId, line, lineNumber, ...(level ? { level } : {}) },
          },
        ],
        answer: { runId, lineNumber },
      };
    });
  }

  complete(
    projectId: string,
    runId: string,
    prUrl?: string,
    options: WriteOptions = {},
  ): Promise<WriteOutcome<RunAnswer>> {
    return this.writes.write(projectId, runKey(runId), options, async (reads) => {
      const run = await activeRun(reads, projectId, runId);
      return {
        events: [
          {
            type: 'agent.run.completed',
            projectId,
            data: {
              runId,
              agentId: run.data.agentId,
              durationMs: Math.max(0, Date.now() - Date.parse(run.occurredAt)),
              ...(prUrl ? { prUrl } : {}),
            },
          },
          {
            type: 'agent.status.changed',
            projectId,
            data: { agentId: run.data.agentId, status: 'idle', previousStatus: 'busy' },
          },
        ],
        answer: { runId, agentId: run.data.agentId },
      };
    });
  }

  fail(
    projectId: string,
    runId: string,
    error: string,
    willRetry: boolean,
    options: WriteOptions = {},
  ): Promise<WriteOutcome<RunAnswer>> {
    return this.writes.write(projectId, runKey(runId), options, async (reads) => {
      const run = await activeRun(reads, projectId, runId);
      const status: AgentStatus = willRetry ? 'idle' : 'error';
      return {
        events: [
          {
            type: 'agent.run.failed',
            projectId,
            data: { runId, agentId: run.data.agentId, error, willRetry },
          },
          {
            type: 'agent.status.changed',
            projectId,
            data: { agentId: run.data.agentId, status, previousStatus: 'busy' },
          },
        ],
        answer: { runId, agentId: run.data.agentId },
      };
    });
  }
}

/** The run's start while it is active (its latest event), or NOT_FOUND. */
async function activeRun(
  reads: { entities(keys: readonly string[]): Promise<(EventEnvelope | null)[]> },
  projectId: string,
  runId: string,
): Promise<EventEnvelope<'agent.run.started'>> {
  const [run] = await reads.entities([runKey(runId)]);
  if (run?.type !== 'agent.run.started') {
    throw new GatewayError('NOT_FOUND', `no active run ${runId} in project ${projectId}`);
  }
  return run as EventEnvelope<'agent.run.started'> & { data: AgentRunStarted };
}
