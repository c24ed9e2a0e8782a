import {
  GatewayClient,
  GatewayClientError,
  type CommandPayloads,
  type CommandType,
  type ConnectionState,
  type TransportName,
} from '../client/index.js';
import { DashboardState, type Agent } from './state.js';
import { ActivityView } from './views/activity.js';
import { AgentsView } from './views/agents.js';
import { BoardView } from './views/board.js';
import { ChartView } from './views/chart.js';
import { CommandsView, describe } from './views/commands.js';
import { LogPanel } from './views/log-panel.js';

/**
 * Where the token comes from: `#token=...` in the URL (kept out of requests
 * and logs), or the demo's development session when the gateway runs with
 * DEMO=1. `#project=` picks the project.
 */
async function session(): Promise<{ token: string; projects: string[] }> {
  const hash = new URLSearchParams(location.hash.slice(1));
  const token = hash.get('token');
  if (token)
    return { token, projects: (hash.get('projects') ?? hash.get('project') ?? 'demo').split(',') };
  const res = await fetch('/demo/session');
  if (!res.ok) throw new Error('no token: open this page with #token=<jwt>&project=<id>');
  return (await res.json()) as { token: string; projects: string[] };
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

async function start(): Promise<void> {
  const { token, projects } = await session();
  const hash = new URLSearchParams(location.hash.slice(1));
  const state = new DashboardState();
  const board = new BoardView($('board'), {
    openLog: (runId) => openLog(runId),
    retry: (taskId) => retry(taskId),
  });
  const agents = new AgentsView($('agents'), $('agents-count'), {
    openLog: (runId) => openLog(runId),
    interrupt: (agentId, runId) => void send(agentId, 'run.interrupt', { runId }),
  });
  const commands = new CommandsView($('commands'), (commandId) => void cancel(commandId));
  const chart = new ChartView($('chart'));
  const activity = new ActivityView($('activity'), $('activity-count'));
  const log = new LogPanel($('log'), $('log-title'), $('log-paused'), $('log-copy'));
  const connection = $('connection');
  const rate = $('rate');

  const client = new GatewayClient({ url: location.origin, token, batch: 'frame' });
  client.onState((s: ConnectionState, transport: TransportName | null) => {
    const label = {
      connecting: 'Connecting',
      live: 'Live',
      reconnecting: 'Reconnecting',
      offline: 'Offline',
    }[s];
    connection.textContent = transport && s === 'live' ? `${label} · ${transport}` : label;
    connection.className = `pill ${s}`;
  });

  // One render per animation frame, whatever the event rate.
  let frameScheduled = false;
  const render = () => {
    frameScheduled = false;
    if (state.dirty.delete('board')) board.render(state);
    if (state.dirty.delete('agents')) agents.render(state);
    if (state.dirty.delete('chart')) chart.render(state);
    if (state.dirty.delete('activity')) activity.render(state);
    if (state.dirty.delete('commands')) {
      commands.render(state);
      reportEndings();
    }
    if (openRunId) showRun(openRunId);
  };
  const invalidate = () => {
    if (frameScheduled) return;
    frameScheduled = true;
    requestAnimationFrame(render);
  };

  // Words for what went wrong, shown until the next notice or a click on it.
  const notice = $('notice');
  notice.addEventListener('click', () => (notice.hidden = true));
  const notify = (text: string) => {
    notice.textContent = text;
    notice.hidden = false;
  };

  /** A refused command, in words a person can act on. */
  const explain = (err: unknown, what: string): string => {
    if (!(err instanceof GatewayClientError)) return `Could not ${what}: ${String(err)}`;
    switch (err.code) {
      case 'FORBIDDEN':
        return `You may not command agents in ${currentProject}: your token lacks the agents:command scope for it.`;
      case 'RATE_LIMITED':
        return `Too many commands in a short time; wait a second and try again to ${what}.`;
      case 'QUEUE_FULL':
        return `Could not ${what}: that agent already has too many commands waiting.`;
      case 'UNAVAILABLE':
        return `Could not ${what}: the page is not connected over WebSocket right now. It will work again once it shows Live.`;
      default:
        return `Could not ${what}: ${err.message} (${err.code}).`;
    }
  };

  // Commands this page sent: their failures are also told in the notice.
  const mine = new Set<string>();
  const send = async <C extends CommandType>(
    agentId: string,
    command: C,
    args: CommandPayloads[C],
  ): Promise<void> => {
    const what = `${describe({ command, args: { ...args } } as never)} on ${agentId}`;
    try {
      const { commandId } = await client.command(currentProject, agentId, command, args);
      mine.add(commandId);
    } catch (err) {
      notify(explain(err, what));
    }
  };
  const cancel = async (commandId: string) => {
    try {
      await client.interruptCommand(currentProject, commandId);
    } catch (err) {
      notify(explain(err, 'cancel that command'));
    }
  };
  const reportEndings = () => {
    for (const id of mine) {
      const command = state.commands.get(id);
      if (!command) continue;
      if (command.state === 'failed' || command.state === 'expired') {
        notify(
          command.state === 'expired'
            ? `${command.agentId} did not take “${describe(command)}” in time (it was not connected).`
            : `${command.agentId} could not ${describe(command)}: ${command.detail ?? 'no reason given'}.`,
        );
      }
      if (command.state !== 'requested' && command.state !== 'accepted') mine.delete(id);
    }
  };

  /** Who should retry a task: its last agent if it is connected and free, else any connected free one. */
  const retry = (taskId: string) => {
    const task = state.tasks.get(taskId);
    const last = task?.lastRunId ? state.runs.get(task.lastRunId)?.agentId : undefined;
    const free = (a: Agent | undefined) => a?.presence === 'online' && !a.runId;
    const online = [...state.agents.values()].filter((a) => a.presence === 'online');
    const agent =
      (last && free(state.agents.get(last)) ? last : undefined) ??
      online.find(free)?.agentId ??
      online[0]?.agentId;
    if (!agent)
      return notify(`No agent is connected to retry ${taskId}; try again when one is online.`);
    void send(agent, 'task.retry', { taskId });
  };

  let logSub: { unsubscribe(): void } | null = null;
  let projectSub: { unsubscribe(): void } | null = null;
  let currentProject = '';
  let openRunId: string | null = null;
  const logState = $('log-state');
  const logInterrupt = $<HTMLButtonElement>('log-interrupt');
  logInterrupt.addEventListener('click', () => {
    const run = openRunId ? state.runs.get(openRunId) : undefined;
    if (run) void send(run.agentId, 'run.interrupt', { runId: run.runId });
  });
  /** The open run's state beside its log: running, completed, or failed and why. */
  const showRun = (runId: string) => {
    const run = state.runs.get(runId);
    const text = !run
      ? ''
      : run.state === 'failed'
        ? `failed: ${run.error ?? ''}`
        : `${run.state} · ${run.agentId}`;
    if (logState.textContent !== text) logState.textContent = text;
    logState.className = `state state-${run?.state ?? 'unknown'}`;
    logInterrupt.hidden = run?.state !== 'running';
  };
  const openLog = (runId: string) => {
    logSub?.unsubscribe();
    openRunId = runId;
    log.open(runId);
    showRun(runId);
    logSub = client.subscribeLogs(currentProject, runId, (lines) => log.append(lines));
  };
  const follow = (projectId: string) => {
    currentProject = projectId;
    projectSub?.unsubscribe();
    logSub?.unsubscribe();
    logSub = null;
    openRunId = null;
    log.close();
    showRun('');
    state.reset({});
    invalidate();
    projectSub = client.subscribe(projectId, {
      onSnapshot: (snapshot) => {
        state.reset(snapshot);
        invalidate();
      },
      onResync: (snapshot) => {
        state.reset(snapshot);
        invalidate();
      },
      onEvents: (events) => {
        state.apply(events);
        invalidate();
      },
    });
  };

  const picker = $<HTMLSelectElement>('project');
  for (const projectId of projects.filter((p) => p !== '*')) {
    const option = document.createElement('option');
    option.value = option.textContent = projectId;
    picker.append(option);
  }
  picker.addEventListener('change', () => follow(picker.value));
  const first = hash.get('project') ?? picker.value;
  picker.value = first;
  follow(first);

  // Events per second, for the eye.
  let last = 0;
  setInterval(() => {
    rate.textContent = `${state.eventsApplied - last} events/s`;
    last = state.eventsApplied;
  }, 1000);

  // For tests and curious people: the live state.
  (window as unknown as { dashboard: unknown }).dashboard = { client, state };
}

start().catch((err: unknown) => {
  $('connection').textContent = String(err instanceof Error ? err.message : err);
  $('connection').className = 'pill offline';
});
