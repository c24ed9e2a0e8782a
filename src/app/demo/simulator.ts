import {
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { LOGGER, type JsonLogger } from '../../core/support/json-logger.js';
import { AgentsService } from '../domain/agents/agents.service.js';
import { ResourcesService } from '../domain/resources/resources.service.js';
import { TasksService } from '../domain/tasks/tasks.service.js';

export const DEMO_PROJECTS = ['demo', 'demo-2'];
const HOSTS = ['worker-1', 'worker-2', 'worker-3'];
const LOG_LINES = [
  'cloning repository',
  'installing dependencies',
  'running unit tests',
  'applying patch to src/gateway/project-feed.ts',
  'tests passed: 214, failed: 0',
  'opening pull request',
  'waiting for CI',
  'rebasing on main',
];

/**
 * DEMO=1: drives the domain services like a busy team would, so the first run
 * shows something alive: tasks planned and worked through subtasks with
 * dependencies, agents running with log lines, now and then a failed run that
 * retries, and resource samples every second.
 */
@Injectable()
export class DemoSimulator implements OnApplicationBootstrap, OnApplicationShutdown {
  private timers: NodeJS.Timeout[] = [];
  private seq = 0;
  private stopped = false;

  constructor(
    @Inject(TasksService) private readonly tasks: TasksService,
    @Inject(AgentsService) private readonly agents: AgentsService,
    @Inject(ResourcesService) private readonly resources: ResourcesService,
    @Inject(LOGGER) private readonly logger: JsonLogger,
  ) {}

  onApplicationBootstrap(): void {
    for (const projectId of DEMO_PROJECTS) {
      this.every(1000, () => this.sample(projectId));
      this.every(2500, () => this.taskLoop(projectId));
    }
  }

  onApplicationShutdown(): void {
    this.stopped = true;
    this.timers.forEach(clearInterval);
    this.timers = [];
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

  /** One task's life, step by step: plan, three subtasks in a chain, runs with logs, done. */
  private async taskLoop(projectId: string): Promise<void> {
    const n = ++this.seq;
    const taskId = `task-${n}`;
    await this.tasks.createTask(projectId, taskId);
    const planner = `planner-${n % 2}`;
    const plan = await this.agents.startRun(projectId, {
      agentId: `${planner}-${n}`,
      agentType: 'planner',
      taskId,
    });
    await this.agents.log(projectId, plan.answer.runId, `planning ${taskId}`);
    await this.agents.complete(projectId, plan.answer.runId);
    await this.tasks.moveTask(projectId, taskId, 'active');
    const ids = [`${taskId}-a`, `${taskId}-b`, `${taskId}-c`];
    await this.tasks.addSubtask(projectId, taskId, ids[0]);
    await this.tasks.addSubtask(projectId, taskId, ids[1], [ids[0]]);
    await this.tasks.addSubtask(projectId, taskId, ids[2], [ids[1]]);
    this.later(400, async () => {
      for (const [i, subtaskId] of ids.entries()) {
        await this.work(projectId, taskId, subtaskId, `worker-${(n + i) % 4}-${n}`);
      }
      await this.tasks.moveTask(projectId, taskId, 'done');
    });
  }

  private async work(
    projectId: string,
    taskId: string,
    subtaskId: string,
    agentId: string,
  ): Promise<void> {
    await this.tasks.moveSubtask(projectId, taskId, subtaskId, 'in_progress');
    const flaky = Math.random() < 0.2;
    const run = await this.agents.startRun(projectId, {
      agentId,
      agentType: 'worker',
      taskId,
      subtaskId,
    });
    for (const line of LOG_LINES.slice(0, 3 + Math.floor(Math.random() * 5))) {
      await this.pause(120);
      await this.agents.log(
        projectId,
        run.answer.runId,
        line,
        line.includes('failed: 0') ? 'info' : 'debug',
      );
    }
    if (flaky) {
      await this.agents.fail(
        projectId,
        run.answer.runId,
        'tests failed: 1 (flaky network test)',
        true,
      );
      await this.tasks.moveSubtask(projectId, taskId, subtaskId, 'failed');
      await this.tasks.moveSubtask(projectId, taskId, subtaskId, 'ready');
      await this.tasks.moveSubtask(projectId, taskId, subtaskId, 'in_progress');
      const retry = await this.agents.startRun(projectId, {
        agentId,
        agentType: 'worker',
        taskId,
        subtaskId,
      });
      await this.agents.log(projectId, retry.answer.runId, 'retrying after flaky failure', 'warn');
      await this.agents.complete(
        projectId,
        retry.answer.runId,
        `https://example.invalid/pr/${subtaskId}`,
      );
    } else {
      await this.agents.complete(
        projectId,
        run.answer.runId,
        `https://example.invalid/pr/${subtaskId}`,
      );
    }
    await this.tasks.moveSubtask(projectId, taskId, subtaskId, 'completed');
    await this.tasks.moveSubtask(projectId, taskId, subtaskId, 'merged');
  }

  private later(ms: number, work: () => Promise<void>): void {
    const timer = setTimeout(() => {
      if (this.stopped) return;
      work().catch((error: unknown) => this.logger.event('warn', 'demo step failed', { error }));
    }, ms);
    timer.unref();
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms).unref());
  }
}

function round(n: number): number {
  return Math.max(0, Math.min(100, Math.round(n * 10) / 10));
}
