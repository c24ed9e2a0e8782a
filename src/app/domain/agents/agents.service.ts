import { Inject, Injectable } from '@nestjs/common';
import { GatewayError } from '../../../core/errors.js';
import { EventPublisher } from '../../../core/publisher.js';
import type { AgentStatus } from '../../../core/payloads.js';
import { shortId } from '../../../core/ids.js';

interface Run {
  runId: string;
  agentId: string;
  startedAt: number;
  lines: number;
}

export interface StartRun {
  agentId: string;
  agentType: 'planner' | 'worker';
  taskId: string;
  subtaskId?: string;
  runId?: string;
}

/**
 * Agents and their runs: starting a run makes the agent busy, log lines are
 * numbered per run, and a run ends completed or failed (with or without a
 * retry), leaving the agent idle or in error.
 */
@Injectable()
export class AgentsService {
  private readonly agents = new Map<string, AgentStatus>();
  private readonly runs = new Map<string, Run>();

  constructor(@Inject(EventPublisher) private readonly bus: EventPublisher) {}

  async startRun(projectId: string, start: StartRun): Promise<Run> {
    const runId = start.runId ?? shortId('run');
    if (this.runs.has(key(projectId, runId)))
      throw new GatewayError('CONFLICT', `run ${runId} exists`);
    const agentKey = key(projectId, start.agentId);
    const previous = this.agents.get(agentKey);
    if (previous === 'busy') throw new GatewayError('CONFLICT', `agent ${start.agentId} is busy`);
    await this.bus.publishMany([
      {
        type: 'agent.status.changed',
        projectId,
        data: {
          agentId: start.agentId,
          status: 'busy',
          ...(previous ? { previousStatus: previous } : {}),
        },
      },
      {
        type: 'agent.run.started',
        projectId,
        data: {
          runId,
          agentId: start.agentId,
          agentType: start.agentType,
          taskId: start.taskId,
          ...(start.subtaskId ? { subtaskId: start.subtaskId } : {}),
        },
      },
    ]);
    this.agents.set(agentKey, 'busy');
    const run: Run = { runId, agentId: start.agentId, startedAt: Date.now(), lines: 0 };
    this.runs.set(key(projectId, runId), run);
    return run;
  }

  async log(
    projectId: string,
    runId: string,
    line: string,
    level?: 'debug' | 'info' | 'warn' | 'error',
  ): Promise<number> {
    const run = this.run(projectId, runId);
    const lineNumber = run.lines + 1;
    await this.bus.publish({
      type: 'agent.run.log',
      projectId,
      data: { runId, line, lineNumber, ...(level ? { level } : {}) },
    });
    run.lines = lineNumber;
    return lineNumber;
  }

  async complete(projectId: string, runId: string, prUrl?: string): Promise<void> {
    const run = this.run(projectId, runId);
    await this.bus.publishMany([
      {
        type: 'agent.run.completed',
        projectId,
        data: {
          runId,
          agentId: run.agentId,
          durationMs: Date.now() - run.startedAt,
          ...(prUrl ? { prUrl } : {}),
        },
      },
      {
        type: 'agent.status.changed',
        projectId,
        data: { agentId: run.agentId, status: 'idle', previousStatus: 'busy' },
      },
    ]);
    this.end(projectId, run, 'idle');
  }

  async fail(projectId: string, runId: string, error: string, willRetry: boolean): Promise<void> {
    const run = this.run(projectId, runId);
    const status: AgentStatus = willRetry ? 'idle' : 'error';
    await this.bus.publishMany([
      {
        type: 'agent.run.failed',
        projectId,
        data: { runId, agentId: run.agentId, error, willRetry },
      },
      {
        type: 'agent.status.changed',
        projectId,
        data: { agentId: run.agentId, status, previousStatus: 'busy' },
      },
    ]);
    this.end(projectId, run, status);
  }

  activeRuns(projectId: string): Run[] {
    const prefix = `${projectId}/`;
    return [...this.runs.entries()].filter(([k]) => k.startsWith(prefix)).map(([, r]) => r);
  }

  private end(projectId: string, run: Run, status: AgentStatus): void {
    this.runs.delete(key(projectId, run.runId));
    this.agents.set(key(projectId, run.agentId), status);
  }

  private run(projectId: string, runId: string): Run {
    const run = this.runs.get(key(projectId, runId));
    if (!run) throw new GatewayError('NOT_FOUND', `no active run ${runId} in project ${projectId}`);
    return run;
  }
}

function key(projectId: string, id: string): string {
  return `${projectId}/${id}`;
}
