import { GatewayClient, type ConnectionState, type TransportName } from '../client/index.js';
import { DashboardState } from './state.js';
import { ActivityView } from './views/activity.js';
import { AgentsView } from './views/agents.js';
import { BoardView } from './views/board.js';
import { ChartView } from './views/chart.js';
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
  const board = new BoardView($('board'));
  const agents = new AgentsView($('agents'), (runId) => openLog(runId));
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
  };
  const invalidate = () => {
    if (frameScheduled) return;
    frameScheduled = true;
    requestAnimationFrame(render);
  };

  let logSub: { unsubscribe(): void } | null = null;
  let projectSub: { unsubscribe(): void } | null = null;
  let currentProject = '';
  const openLog = (runId: string) => {
    logSub?.unsubscribe();
    log.open(runId);
    logSub = client.subscribeLogs(currentProject, runId, (lines) => log.append(lines));
  };
  const follow = (projectId: string) => {
    currentProject = projectId;
    projectSub?.unsubscribe();
    logSub?.unsubscribe();
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
