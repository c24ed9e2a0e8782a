import type { EventEnvelope, Snapshot } from '../client/index.js';
import { compareStreamIds } from '../protocol/stream-id.js';

export const TASK_COLUMNS = ['planning', 'active', 'planning_failed', 'done'] as const;
/** Samples kept per host for the chart. */
const MAX_SAMPLES = 300;
/** Activity entries kept (the list is virtual; memory is the bound). */
const MAX_ACTIVITY = 50_000;

export interface Task {
  taskId: string;
  status: string;
  updatedAt: string;
}
export interface Agent {
  agentId: string;
  status: string;
}
export interface Run {
  runId: string;
  agentId: string;
  taskId: string;
  state: 'running' | 'completed' | 'failed';
}

/**
 * What the dashboard shows, built from the snapshot and then each event in
 * id order. Views read it and a dirty set says what changed since they last
 * rendered, so a burst of events costs one render per frame.
 */
export class DashboardState {
  readonly tasks = new Map<string, Task>();
  readonly agents = new Map<string, Agent>();
  readonly runs = new Map<string, Run>();
  readonly samples = new Map<string, { t: number[]; cpu: number[] }>();
  readonly activity: EventEnvelope[] = [];
  readonly dirty = new Set<'board' | 'agents' | 'chart' | 'activity'>();
  eventsApplied = 0;

  reset(snapshot: Snapshot): void {
    this.tasks.clear();
    this.agents.clear();
    this.runs.clear();
    this.samples.clear();
    this.activity.length = 0;
    const entries = Object.values(snapshot).sort((a, b) => compareStreamIds(a.id, b.id));
    for (const event of entries) this.applyOne(event, false);
    this.dirty.add('board').add('agents').add('chart').add('activity');
  }

  apply(events: EventEnvelope[]): void {
    for (const event of events) this.applyOne(event, true);
  }

  private applyOne(event: EventEnvelope, live: boolean): void {
    this.eventsApplied++;
    if (live) {
      this.activity.push(event);
      if (this.activity.length > MAX_ACTIVITY)
        this.activity.splice(0, this.activity.length - MAX_ACTIVITY);
      this.dirty.add('activity');
    }
    const data = event.data as unknown as Record<string, unknown>;
    switch (event.type) {
      case 'task.status.changed':
        this.tasks.set(data.taskId as string, {
          taskId: data.taskId as string,
          status: data.to as string,
          updatedAt: event.occurredAt,
        });
        this.dirty.add('board');
        break;
      case 'agent.status.changed':
        this.agents.set(data.agentId as string, {
          agentId: data.agentId as string,
          status: data.status as string,
        });
        this.dirty.add('agents');
        break;
      case 'agent.run.started':
        this.runs.set(data.runId as string, {
          runId: data.runId as string,
          agentId: data.agentId as string,
          taskId: data.taskId as string,
          state: 'running',
        });
        this.dirty.add('agents');
        break;
      case 'agent.run.completed':
      case 'agent.run.failed': {
        const run = this.runs.get(data.runId as string);
        if (run) run.state = event.type === 'agent.run.completed' ? 'completed' : 'failed';
        this.dirty.add('agents');
        break;
      }
      case 'system.resource.sampled': {
        const host = data.host as string;
        let series = this.samples.get(host);
        if (!series) {
          series = { t: [], cpu: [] };
          this.samples.set(host, series);
        }
        series.t.push(Date.parse(event.occurredAt) / 1000);
        series.cpu.push(data.cpuPercent as number);
        if (series.t.length > MAX_SAMPLES) {
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
}
