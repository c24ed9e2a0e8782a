import type { EventEnvelope, Snapshot } from '../client/index.js';
import { compareStreamIds } from '../protocol/stream-id.js';

export const TASK_COLUMNS = ['planning', 'active', 'planning_failed', 'done'] as const;
/** Samples kept per host for the chart. */
const MAX_SAMPLES = 300;
/** Activity entries kept (the list is virtual; memory is the bound). */
const MAX_ACTIVITY = 10_000;
/** Ended runs kept (running ones are all kept): enough to open a recent run's log. */
const MAX_ENDED_RUNS = 200;
/** Commands kept, newest last. */
const MAX_COMMANDS = 50;
/** Finished (`done`) tasks kept; the count of all of them is kept apart. */
const MAX_DONE_TASKS = 200;

export interface Subtask {
  subtaskId: string;
  status: string;
  lastRunId?: string;
}
export interface Task {
  taskId: string;
  status: string;
  updatedAt: string;
  subtasks: Map<string, Subtask>;
  lastRunId?: string;
}
export interface Agent {
  agentId: string;
  /** The work status the domain publishes (`idle`, `busy`, `error`, `offline`). */
  status: string;
  /** Whether the agent is connected to the gateway (`agent.presence.changed`); unknown when never seen. */
  presence?: 'online' | 'offline';
  /** Its run in progress, if any. */
  runId?: string;
}
export interface Run {
  runId: string;
  agentId: string;
  taskId: string;
  subtaskId?: string;
  state: 'running' | 'completed' | 'failed';
  error?: string;
}
export type CommandState =
  'requested' | 'accepted' | 'completed' | 'failed' | 'interrupted' | 'expired';
export interface Command {
  commandId: string;
  agentId: string;
  command: string;
  args: Record<string, unknown>;
  requestedBy: string;
  state: CommandState;
  /** The agent's result, its error, or who interrupted it. */
  detail?: string;
  updatedAt: string;
}
export const FINAL_COMMAND_STATES: ReadonlySet<CommandState> = new Set([
  'completed',
  'failed',
  'interrupted',
  'expired',
]);

/** One host's CPU samples, oldest first, with their event ids (to merge history in). */
export interface Series {
  ids: string[];
  t: number[];
  cpu: number[];
}

export type Section = 'board' | 'agents' | 'chart' | 'activity' | 'commands';

/**
 * What the dashboard shows, built from the snapshot and then each event in
 * id order. Views read it and a dirty set says what changed since they last
 * rendered, so a burst of events costs one render per frame. Every
 * collection is bounded, so a page left open all day stays the same size.
 */
export class DashboardState {
  readonly tasks = new Map<string, Task>();
  readonly agents = new Map<string, Agent>();
  readonly runs = new Map<string, Run>();
  readonly commands = new Map<string, Command>();
  readonly samples = new Map<string, Series>();
  readonly activity: EventEnvelope[] = [];
  readonly dirty = new Set<Section>();
  /** Live events applied (the snapshot is not counted: it is state, not traffic). */
  eventsApplied = 0;
  /** Tasks done, including those no longer kept. */
  doneCount = 0;

  reset(snapshot: Snapshot): void {
    this.tasks.clear();
    this.agents.clear();
    this.runs.clear();
    this.commands.clear();
    this.samples.clear();
    this.activity.length = 0;
    this.doneCount = 0;
    const entries = Object.values(snapshot).sort((a, b) => compareStreamIds(a.id, b.id));
    for (const event of entries) this.applyOne(event, false);
    this.dirty.add('board').add('agents').add('chart').add('activity').add('commands');
  }

  apply(events: EventEnvelope[]): void {
    for (const event of events) this.applyOne(event, true);
  }

  /**
   * Resource samples from history (up to `position`, where the snapshot
   * stands) put before the ones held: the chart's past. History the state
   * already has, or newer than it, is skipped.
   */
  backfillSamples(history: EventEnvelope[], position: string): void {
    const older = new Map<string, EventEnvelope[]>();
    for (const event of history) {
      if (event.type !== 'system.resource.sampled') continue;
      if (compareStreamIds(event.id, position) > 0) continue;
      const host = (event.data as { host: string }).host;
      const series = this.samples.get(host);
      if (series?.ids.length && compareStreamIds(event.id, series.ids[0]) >= 0) continue;
      const list = older.get(host) ?? [];
      list.push(event);
      older.set(host, list);
    }
    for (const [host, events] of older) {
      const series = this.samples.get(host) ?? { ids: [], t: [], cpu: [] };
      events.sort((a, b) => compareStreamIds(a.id, b.id));
      series.ids.unshift(...events.map((e) => e.id));
      series.t.unshift(...events.map((e) => Date.parse(e.occurredAt) / 1000));
      series.cpu.unshift(...events.map((e) => (e.data as { cpuPercent: number }).cpuPercent));
      const excess = series.t.length - MAX_SAMPLES;
      if (excess > 0) {
        series.ids.splice(0, excess);
        series.t.splice(0, excess);
        series.cpu.splice(0, excess);
      }
      this.samples.set(host, series);
    }
    if (older.size) this.dirty.add('chart');
  }

  /** Whether a task has a step that failed and waits for a retry. */
  failed(task: Task): boolean {
    if (task.status === 'planning_failed') return true;
    for (const subtask of task.subtasks.values()) if (subtask.status === 'failed') return true;
    return false;
  }

  private applyOne(event: EventEnvelope, live: boolean): void {
    if (live) {
      this.eventsApplied++;
      this.activity.push(event);
      if (this.activity.length > MAX_ACTIVITY)
        this.activity.splice(0, this.activity.length - MAX_ACTIVITY);
      this.dirty.add('activity');
    }
    const data = event.data as unknown as Record<string, unknown>;
    if (event.type.startsWith('command.')) return this.command(event, data);
    switch (event.type) {
      case 'task.status.changed': {
        const taskId = data.taskId as string;
        const task = this.task(taskId);
        task.status = data.to as string;
        task.updatedAt = event.occurredAt;
        if (task.status === 'done') this.finish(taskId);
        this.dirty.add('board');
        break;
      }
      case 'subtask.status.changed': {
        const task = this.task(data.taskId as string);
        const subtaskId = data.subtaskId as string;
        const subtask = task.subtasks.get(subtaskId) ?? { subtaskId, status: '' };
        subtask.status = data.to as string;
        task.subtasks.set(subtaskId, subtask);
        this.dirty.add('board');
        break;
      }
      case 'agent.status.changed':
        this.agent(data.agentId as string).status = data.status as string;
        this.dirty.add('agents');
        break;
      case 'agent.presence.changed':
        this.agent(data.agentId as string).presence = data.to as 'online' | 'offline';
        this.dirty.add('agents');
        break;
      case 'agent.run.started': {
        const run: Run = {
          runId: data.runId as string,
          agentId: data.agentId as string,
          taskId: data.taskId as string,
          ...(data.subtaskId ? { subtaskId: data.subtaskId as string } : {}),
          state: 'running',
        };
        this.runs.delete(run.runId);
        this.runs.set(run.runId, run);
        this.agent(run.agentId).runId = run.runId;
        const task = this.tasks.get(run.taskId);
        if (task) {
          task.lastRunId = run.runId;
          const subtask = run.subtaskId ? task.subtasks.get(run.subtaskId) : undefined;
          if (subtask) subtask.lastRunId = run.runId;
        }
        this.pruneRuns();
        this.dirty.add('agents').add('board');
        break;
      }
      case 'agent.run.completed':
      case 'agent.run.failed': {
        const run = this.runs.get(data.runId as string);
        if (run) {
          run.state = event.type === 'agent.run.completed' ? 'completed' : 'failed';
          if (typeof data.error === 'string') run.error = data.error;
        }
        const agent = this.agents.get(data.agentId as string);
        if (agent && agent.runId === data.runId) delete agent.runId;
        this.dirty.add('agents').add('board');
        break;
      }
      case 'system.resource.sampled': {
        const host = data.host as string;
        let series = this.samples.get(host);
        if (!series) {
          series = { ids: [], t: [], cpu: [] };
          this.samples.set(host, series);
        }
        series.ids.push(event.id);
        series.t.push(Date.parse(event.occurredAt) / 1000);
        series.cpu.push(data.cpuPercent as number);
        if (series.t.length > MAX_SAMPLES) {
          series.ids.shift();
          series.t.shift();
          series.cpu.shift();
        }
        this.dirty.add('chart');
        break;
      }
      default:
        break;
    }
  }

  private command(event: EventEnvelope, data: Record<string, unknown>): void {
    const commandId = data.commandId as string;
    const state = event.type.slice('command.'.length) as CommandState;
    let command = this.commands.get(commandId);
    if (state === 'requested' && !command) {
      command = {
        commandId,
        agentId: data.agentId as string,
        command: data.command as string,
        args: data.args as Record<string, unknown>,
        requestedBy: data.requestedBy as string,
        state,
        updatedAt: event.occurredAt,
      };
      this.commands.set(commandId, command);
      if (this.commands.size > MAX_COMMANDS)
        this.commands.delete(this.commands.keys().next().value!);
    }
    // A command whose request is older than what is kept: nothing to show it against.
    if (!command || FINAL_COMMAND_STATES.has(command.state)) return;
    command.state = state;
    command.updatedAt = event.occurredAt;
    const detail = data.result ?? data.error ?? (state === 'interrupted' ? data.requestedBy : null);
    if (typeof detail === 'string') command.detail = detail;
    this.dirty.add('commands');
  }

  private task(taskId: string): Task {
    let task = this.tasks.get(taskId);
    if (!task) {
      task = { taskId, status: 'planning', updatedAt: '', subtasks: new Map() };
      this.tasks.set(taskId, task);
    }
    return task;
  }

  private agent(agentId: string): Agent {
    let agent = this.agents.get(agentId);
    if (!agent) {
      agent = { agentId, status: 'idle' };
      this.agents.set(agentId, agent);
    }
    return agent;
  }

  /** Keeps the newest `MAX_DONE_TASKS` done tasks (map order is the order they finished). */
  private finish(taskId: string): void {
    this.doneCount++;
    const task = this.tasks.get(taskId)!;
    this.tasks.delete(taskId);
    this.tasks.set(taskId, task);
    let done = 0;
    for (const t of this.tasks.values()) if (t.status === 'done') done++;
    for (const [id, t] of this.tasks) {
      if (done <= MAX_DONE_TASKS) break;
      if (t.status !== 'done') continue;
      this.tasks.delete(id);
      done--;
    }
  }

  private pruneRuns(): void {
    let ended = 0;
    for (const run of this.runs.values()) if (run.state !== 'running') ended++;
    if (ended <= MAX_ENDED_RUNS) return;
    for (const [runId, run] of this.runs) {
      if (run.state === 'running') continue;
      this.runs.delete(runId);
      if (--ended <= MAX_ENDED_RUNS) break;
    }
  }
}
