import {
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { AddressInfo } from 'node:net';
import { AgentClient } from '../../client/agent-client.js';
import { LOGGER, type JsonLogger } from '../../core/support/json-logger.js';
import { APP_CONFIG, type AppConfig } from '../../config/app-config.js';
import { EventPublisher } from '../../core/publisher.js';
import { signDevToken } from '../../delivery/auth/dev-token.js';
import { AgentsService } from '../domain/agents/agents.service.js';
import { ResourcesService } from '../domain/resources/resources.service.js';
import { TasksService } from '../domain/tasks/tasks.service.js';
import { DemoAgent, DemoAgentPool, type DemoRun } from './demo-agents.js';

export const DEMO_PROJECTS = ['demo', 'demo-2'];
/** Who the demo page is: an operator of the demo projects (may send commands to agents). */
export const DEMO_OPERATOR = {
  sub: 'demo-operator',
  projects: DEMO_PROJECTS,
  scope: 'agents:command',
};
const HOSTS = ['worker-1', 'worker-2', 'worker-3'];
const AGENT_IDS = ['agent-1', 'agent-2', 'agent-3', 'agent-4', 'agent-5', 'agent-6'];
const PLAN_LINES = ['reading the task', 'looking through the code', 'drafting three subtasks'];
const WORK_LINES = [
  'cloning repository',
  'installing dependencies',
  'running unit tests',
  'applying patch to src/gateway/project-feed.ts',
  'tests passed: 214, failed: 0',
  'opening pull request',
  'waiting for CI',
  'rebasing on main',
];
/** A new task per project this often, unless `MAX_TASKS_IN_FLIGHT` are being worked on. */
const TASK_EVERY_MS = 4000;
const MAX_TASKS_IN_FLIGHT = 2;
/** Between two log lines of a run: runs last a few seconds, long enough to interrupt one. */
const LINE_MS = 700;
/** A failed or interrupted step waits this long for a person's retry, then is retried anyway. */
const AUTO_RETRY_MS = 30_000;
const FAILURE_RATE = 0.15;
/** The most extra events per second per project the demo's load control allows. */
export const MAX_DEMO_LOAD = 1000;
/** The extra load is published this often, in batches. */
const LOAD_TICK_MS = 100;

/** A task worked through its steps: planning (-1), then each subtask in turn. */
interface TaskFlow {
  projectId: string;
  taskId: string;
  subtaskIds: string[];
  next: number;
  /** The step at `next` failed: moving it back comes first. */
  failed: boolean;
  retryTimer?: NodeJS.Timeout;
}
type Outcome = 'completed' | 'failed' | 'interrupted';

/**
 * DEMO=1: a busy team's project, so the first run shows something alive:
 * tasks planned and worked through subtasks with dependencies, runs with log
 * lines, resource samples every second. The work is done by six agents that
 * are real agent clients of this gateway (connected over Socket.IO once it
 * listens), so from the dashboard a person can interrupt a running agent
 * and retry a failed task. Now and then a plan or a run fails; a failed step
 * waits for a retry (by a person, or by itself after 30 s).
 */
@Injectable()
export class DemoSimulator implements OnApplicationBootstrap, OnApplicationShutdown {
  private timers: NodeJS.Timeout[] = [];
  private seq = 0;
  private stopped = false;
  private pool: DemoAgentPool | null = null;
  /** Tasks being worked on, per project. */
  private readonly inFlight = new Map<string, number>();
  /** Tasks whose last step failed, by `project/task`, waiting for a retry. */
  private readonly parked = new Map<string, TaskFlow>();
  /** Extra events per second per project (`PUT /demo/load`), as resource samples. */
  private extra = 0;
  private loadTimer: NodeJS.Timeout | null = null;

  constructor(
    @Inject(TasksService) private readonly tasks: TasksService,
    @Inject(AgentsService) private readonly agents: AgentsService,
    @Inject(ResourcesService) private readonly resources: ResourcesService,
    @Inject(EventPublisher) private readonly publisher: EventPublisher,
    @Inject(HttpAdapterHost) private readonly http: HttpAdapterHost,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly logger: JsonLogger,
  ) {}

  onApplicationBootstrap(): void {
    for (const projectId of DEMO_PROJECTS) {
      this.every(1000, () => this.sample(projectId));
      this.every(TASK_EVERY_MS, () => this.startTask(projectId));
    }
    // The agents connect to this gateway like any other, so only once it listens.
    const server = this.http.httpAdapter.getHttpServer() as import('node:http').Server;
    const connect = () => {
      this.connectAgents((server.address() as AddressInfo).port).catch((error: unknown) =>
        this.logger.event('warn', 'demo agents did not start', { error }),
      );
    };
    if (server.listening) connect();
    else server.once('listening', connect);
  }

  get load(): number {
    return this.extra;
  }

  /**
   * Extra resource samples per second per project, to see a page under
   * load; 0 stops them. Published every `LOAD_TICK_MS` in batches of at most
   * 100 (one append each).
   */
  setLoad(eventsPerSecond: number): void {
    this.extra = Math.max(0, Math.min(MAX_DEMO_LOAD, Math.floor(eventsPerSecond)));
    if (this.loadTimer) clearInterval(this.loadTimer);
    this.loadTimer = null;
    if (!this.extra || this.stopped) return;
    let owed = 0;
    this.loadTimer = setInterval(() => {
      owed += (this.extra * LOAD_TICK_MS) / 1000;
      const count = Math.floor(owed);
      owed -= count;
      for (const projectId of DEMO_PROJECTS) {
        for (let sent = 0; sent < count; sent += 100) {
          const batch = Array.from({ length: Math.min(100, count - sent) }, (_, i) => ({
            type: 'system.resource.sampled' as const,
            projectId,
            data: {
              host: HOSTS[(sent + i) % HOSTS.length],
              cpuPercent: round(50 + 40 * Math.sin(Date.now() / 2000 + i)),
              memoryPercent: round(60 + Math.random() * 10),
            },
          }));
          this.publisher
            .publishMany(batch)
            .catch((error: unknown) => this.logger.event('warn', 'demo load failed', { error }));
        }
      }
    }, LOAD_TICK_MS);
    this.loadTimer.unref();
  }

  onApplicationShutdown(): void {
    if (this.loadTimer) clearInterval(this.loadTimer);
    this.stopped = true;
    this.timers.forEach(clearInterval);
    this.timers = [];
    for (const flow of this.parked.values()) clearTimeout(flow.retryTimer);
    this.parked.clear();
    this.pool?.close();
  }

  private async connectAgents(port: number): Promise<void> {
    const agents: DemoAgent[] = [];
    for (const agentId of AGENT_IDS) {
      const token = await signDevToken(this.config.jwt, {
        sub: agentId,
        projects: DEMO_PROJECTS,
        role: 'agent',
      });
      if (!token) throw new Error('the demo agents need an HS256 secret (JWT_SECRET or generated)');
      const agent = new DemoAgent(
        agentId,
        new AgentClient({ url: `http://127.0.0.1:${port}`, token, maxBackoffMs: 2000 }),
      );
      this.handleCommands(agent);
      agents.push(agent);
    }
    if (this.stopped) return agents.forEach((a) => a.client.close());
    this.pool = new DemoAgentPool(agents);
  }

  /** What the demo's agents do when a dashboard asks. */
  private handleCommands(agent: DemoAgent): void {
    agent.client
      .onCommand('run.interrupt', async ({ runId }, context) => {
        const run = agent.run;
        if (run?.runId !== runId || run.projectId !== context.projectId)
          throw new Error(`run ${runId} is not running on ${agent.agentId}`);
        run.interruptedBy = context.requestedBy;
        run.abort.abort();
        await run.ended;
        return `interrupted run ${runId}`;
      })
      .onCommand('task.retry', async ({ taskId }, context) => {
        const key = `${context.projectId}/${taskId}`;
        const flow = this.parked.get(key);
        if (!flow) throw new Error(`task ${taskId} has no failed step to retry`);
        const pool = this.pool;
        if (!pool) throw new Error('the demo is not running');
        await pool.claim(agent, context.signal);
        // Another retry (a person's, or the automatic one) may have taken it meanwhile.
        if (this.parked.get(key) !== flow) {
          pool.release(agent);
          throw new Error(`task ${taskId} was retried meanwhile`);
        }
        this.parked.delete(key);
        clearTimeout(flow.retryTimer);
        const step = flow.next < 0 ? 'planning' : `subtask ${flow.subtaskIds[flow.next]}`;
        const outcome = await this.step(flow, agent, context.signal).finally(() =>
          pool.release(agent),
        );
        if (outcome !== 'completed') {
          this.park(flow);
          throw new Error(`the retried ${step} ${outcome} again`);
        }
        void this.drive(flow);
        return `retried ${step}: completed`;
      })
      .onCommand('agent.instruct', async ({ text }, context) => {
        const run = agent.run;
        if (run?.projectId === context.projectId)
          await this.agents.log(
            run.projectId,
            run.runId,
            `instruction from ${context.requestedBy}: ${text}`,
          );
        return run ? `noted in run ${run.runId}` : 'noted (no run in progress)';
      });
  }

  private every(ms: number, work: () => Promise<void>): void {
    const timer = setInterval(() => {
      if (this.stopped) return;
      work().catch((error: unknown) => this.logger.event('warn', 'demo step failed', { error }));
    }, ms);
    timer.unref();
    this.timers.push(timer);
  }

  private async sample(projectId: string): Promise<void> {
    const t = Date.now() / 10_000;
    for (const [i, host] of HOSTS.entries()) {
      await this.resources.record(projectId, {
        host,
        cpuPercent: round(50 + 35 * Math.sin(t + i) + Math.random() * 10),
        memoryPercent: round(55 + 20 * Math.cos(t / 2 + i) + Math.random() * 5),
        queueDepth: Math.floor(Math.random() * 12),
      });
    }
  }

  private async startTask(projectId: string): Promise<void> {
    if (!this.pool || (this.inFlight.get(projectId) ?? 0) >= MAX_TASKS_IN_FLIGHT) return;
    const taskId = `task-${++this.seq}`;
    await this.tasks.createTask(projectId, taskId);
    const flow: TaskFlow = {
      projectId,
      taskId,
      subtaskIds: ['a', 'b', 'c'].map((s) => `${taskId}-${s}`),
      next: -1,
      failed: false,
    };
    await this.drive(flow);
  }

  /** Works through a task's steps from `flow.next`, one agent per step, until done or a step fails. */
  private async drive(flow: TaskFlow): Promise<void> {
    const { projectId } = flow;
    this.inFlight.set(projectId, (this.inFlight.get(projectId) ?? 0) + 1);
    try {
      while (!this.stopped && this.pool && flow.next < flow.subtaskIds.length) {
        const pool = this.pool;
        const agent = await pool.acquire();
        const outcome = await this.step(flow, agent).finally(() => pool.release(agent));
        if (outcome !== 'completed') return this.park(flow);
      }
      if (!this.stopped) await this.tasks.moveTask(projectId, flow.taskId, 'done');
    } finally {
      this.inFlight.set(projectId, (this.inFlight.get(projectId) ?? 1) - 1);
    }
  }

  /** Waits for a person's `task.retry`; retries by itself after `AUTO_RETRY_MS`. */
  private park(flow: TaskFlow): void {
    if (this.stopped) return;
    const key = `${flow.projectId}/${flow.taskId}`;
    flow.retryTimer = setTimeout(() => {
      if (this.parked.get(key) !== flow) return;
      this.parked.delete(key);
      this.drive(flow).catch((error: unknown) =>
        this.logger.event('warn', 'demo step failed', { error }),
      );
    }, AUTO_RETRY_MS);
    flow.retryTimer.unref();
    this.parked.set(key, flow);
  }

  /** One step on one agent: the plan (then the subtasks exist) or one subtask. */
  private async step(flow: TaskFlow, agent: DemoAgent, signal?: AbortSignal): Promise<Outcome> {
    const { projectId, taskId } = flow;
    const fails = Math.random() < FAILURE_RATE;
    if (flow.next < 0) {
      if (flow.failed) await this.tasks.moveTask(projectId, taskId, 'planning');
      flow.failed = false;
      const outcome = await this.run(
        agent,
        projectId,
        { taskId, agentType: 'planner' },
        {
          lines: PLAN_LINES,
          failure: fails ? 'could not split the task: the description is ambiguous' : undefined,
          signal,
        },
      );
      if (outcome !== 'completed') {
        await this.tasks.moveTask(projectId, taskId, 'planning_failed');
        flow.failed = true;
        return outcome;
      }
      await this.tasks.moveTask(projectId, taskId, 'active');
      for (const [i, subtaskId] of flow.subtaskIds.entries())
        await this.tasks.addSubtask(
          projectId,
          taskId,
          subtaskId,
          i ? [flow.subtaskIds[i - 1]] : [],
        );
      flow.next = 0;
      return outcome;
    }
    const subtaskId = flow.subtaskIds[flow.next];
    if (flow.failed) await this.tasks.moveSubtask(projectId, taskId, subtaskId, 'ready');
    flow.failed = false;
    await this.tasks.moveSubtask(projectId, taskId, subtaskId, 'in_progress');
    const outcome = await this.run(
      agent,
      projectId,
      { taskId, subtaskId, agentType: 'worker' },
      {
        lines: WORK_LINES.slice(0, 3 + Math.floor(Math.random() * 5)),
        failure: fails ? 'tests failed: 1 (flaky network test)' : undefined,
        signal,
      },
    );
    if (outcome !== 'completed') {
      await this.tasks.moveSubtask(projectId, taskId, subtaskId, 'failed');
      flow.failed = true;
      return outcome;
    }
    await this.tasks.moveSubtask(projectId, taskId, subtaskId, 'completed');
    await this.tasks.moveSubtask(projectId, taskId, subtaskId, 'merged');
    flow.next++;
    return outcome;
  }

  /** A run with its log lines, ending completed, failed or interrupted (by a command or `signal`). */
  private async run(
    agent: DemoAgent,
    projectId: string,
    start: { taskId: string; subtaskId?: string; agentType: 'planner' | 'worker' },
    how: { lines: string[]; failure?: string; signal?: AbortSignal },
  ): Promise<Outcome> {
    const { answer } = await this.agents.startRun(projectId, { agentId: agent.agentId, ...start });
    const { runId } = answer;
    let ended!: () => void;
    const run: DemoRun = {
      projectId,
      runId,
      abort: new AbortController(),
      ended: new Promise<void>((resolve) => (ended = resolve)),
    };
    const onAbort = () => {
      run.interruptedBy ??= 'a command interrupt';
      run.abort.abort();
    };
    how.signal?.addEventListener('abort', onAbort);
    agent.run = run;
    try {
      for (const line of how.lines) {
        await pause(LINE_MS * (0.5 + Math.random()), run.abort.signal);
        if (run.abort.signal.aborted) break;
        await this.agents.log(
          projectId,
          runId,
          line,
          line.includes('failed: 0') ? 'info' : 'debug',
        );
      }
      if (run.abort.signal.aborted) {
        await this.agents.fail(projectId, runId, `interrupted by ${run.interruptedBy}`, true);
        return 'interrupted';
      }
      if (how.failure) {
        await this.agents.fail(projectId, runId, how.failure, true);
        return 'failed';
      }
      await this.agents.complete(
        projectId,
        runId,
        start.subtaskId ? `https://example.invalid/pr/${start.subtaskId}` : undefined,
      );
      return 'completed';
    } finally {
      how.signal?.removeEventListener('abort', onAbort);
      agent.run = null;
      ended();
    }
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    timer.unref();
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });
}

function round(n: number): number {
  return Math.max(0, Math.min(100, Math.round(n * 10) / 10));
}
