import { GatewayClient, type ConnectionState, type TransportName } from '../client/index.js';
import { Operator } from './operator.js';
import { openSession, type Session } from './session.js';
import { DashboardState } from './state.js';
import { ActivityView } from './views/activity.js';
import { AgentsView } from './views/agents.js';
import { BoardView } from './views/board.js';
import { ChartView } from './views/chart.js';
import { CommandsView } from './views/commands.js';
import { LogPanel } from './views/log-panel.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

/** Resource samples read from history when a project opens, so the chart starts with a past. */
const CHART_BACKFILL = 1000;

/** Words for the page's notice line; a click hides it. */
const notice = $('notice');
notice.addEventListener('click', () => (notice.hidden = true));
let noticeKind: 'connection' | 'other' = 'other';
function notify(text: string, kind: 'connection' | 'other' = 'other'): void {
  notice.textContent = text;
  notice.hidden = false;
  noticeKind = kind;
}

/** Why the page is offline, and what to do about it. */
function offlineReason(error: { code: string; message: string }, session: Session): string {
  if (error.code === 'UNAUTHORIZED') {
    return typeof session.token === 'string'
      ? `The gateway refused this page's token (${error.message}). Open the page again with a fresh token: /#token=<jwt>&project=<id>.`
      : `The gateway refused the demo's token even after fetching a new one (${error.message}). Reload the page.`;
  }
  return `Offline: ${error.message} (${error.code}). Reload the page to try again.`;
}

function start(session: Session): void {
  const state = new DashboardState();
  const client = new GatewayClient({
    url: location.origin,
    token: session.token,
    batch: 'frame',
    // A person is watching: come back soon after the server does.
    maxBackoffMs: 5000,
  });
  let currentProject = '';
  const operator = new Operator(client, state, () => currentProject, notify);

  const board = new BoardView(
    $('board'),
    {
      openLog: (runId) => openLog(runId),
      noRun: (taskId) => {
        logSub?.unsubscribe();
        logSub = null;
        openRunId = null;
        log.open(taskId);
        log.say(
          `No run of ${taskId} is known to this page: its runs ended before the page opened, or none has started yet.`,
        );
      },
      retry: (taskId) => operator.retry(taskId),
    },
    () => {
      state.dirty.add('board');
      invalidate();
    },
  );
  const agents = new AgentsView($('agents'), $('agents-count'), {
    openLog: (runId) => openLog(runId),
    interrupt: (agentId, runId) => operator.interrupt(agentId, runId),
  });
  const commands = new CommandsView($('commands'), (id) => void operator.cancel(id));
  const chart = new ChartView($('chart'));
  const activity = new ActivityView($('activity'), $('activity-count'));
  let openRunId: string | null = null;
  let logSub: { unsubscribe(): void } | null = null;
  const log = new LogPanel(
    $('log-panel'),
    $('log'),
    $('log-title'),
    $('log-paused'),
    $('log-copy'),
    $('log-close'),
    () => {
      logSub?.unsubscribe();
      logSub = null;
      openRunId = null;
    },
  );

  const connection = $('connection');
  client.onState((s: ConnectionState, transport: TransportName | null, error) => {
    const label = {
      connecting: 'Connecting',
      live: 'Live',
      reconnecting: 'Reconnecting',
      offline: 'Offline',
    }[s];
    connection.textContent = transport && s === 'live' ? `${label} · ${transport}` : label;
    connection.className = `pill ${s}`;
    if (s === 'offline' && error) notify(offlineReason(error, session), 'connection');
    if (s === 'live' && noticeKind === 'connection') notice.hidden = true;
  });

  // The open run's state beside its log: running, completed, or failed and why.
  const logState = $('log-state');
  const logInterrupt = $<HTMLButtonElement>('log-interrupt');
  logInterrupt.addEventListener('click', () => {
    const run = openRunId ? state.runs.get(openRunId) : undefined;
    if (run) operator.interrupt(run.agentId, run.runId);
  });
  const showRun = () => {
    const run = openRunId ? state.runs.get(openRunId) : undefined;
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
    showRun();
    logSub = client.subscribeLogs(currentProject, runId, (lines) => log.append(lines));
    if (client.transport !== 'websocket')
      log.say(
        `Run logs travel over WebSocket; this page is connected over ${client.transport ?? 'nothing yet'}. They appear once it is on WebSocket.`,
      );
  };

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
      operator.review();
    }
    showRun();
  };
  const invalidate = () => {
    if (frameScheduled) return;
    frameScheduled = true;
    requestAnimationFrame(render);
  };

  // Live events per second, for the eye (the snapshot is state, not traffic).
  const rate = $('rate');
  let last = state.eventsApplied;
  const resetRate = () => {
    last = state.eventsApplied;
    rate.textContent = '';
  };
  setInterval(() => {
    rate.textContent = `${state.eventsApplied - last} events/s`;
    last = state.eventsApplied;
  }, 1000);

  let projectSub: { unsubscribe(): void } | null = null;
  const follow = (projectId: string) => {
    currentProject = projectId;
    projectSub?.unsubscribe();
    log.close();
    operator.reset();
    board.reset();
    state.reset({});
    resetRate();
    invalidate();
    let backfilled = false;
    const fromSnapshot = (snapshot: Parameters<DashboardState['reset']>[0], position: string) => {
      state.reset(snapshot);
      invalidate();
      if (backfilled) return;
      backfilled = true;
      // The snapshot holds one sample per host: the chart's past comes from history.
      client.history(projectId, { limit: CHART_BACKFILL }).then(
        (page) => {
          if (currentProject !== projectId) return;
          state.backfillSamples(page.events, position);
          invalidate();
        },
        () => undefined,
      );
    };
    projectSub = client.subscribe(projectId, {
      onSnapshot: fromSnapshot,
      onResync: fromSnapshot,
      onEvents: (events) => {
        state.apply(events);
        invalidate();
      },
      onError: ({ code, message }) =>
        notify(
          code === 'FORBIDDEN'
            ? `This token may not see project ${projectId}: ${message}. Pick another project or open the page with a token for it.`
            : `Project ${projectId}: ${message} (${code}).`,
        ),
    });
  };

  const picker = $<HTMLSelectElement>('project');
  for (const projectId of session.projects) {
    const option = document.createElement('option');
    option.value = option.textContent = projectId;
    picker.append(option);
  }
  picker.addEventListener('change', () => follow(picker.value));
  picker.value = session.project;
  follow(session.project);

  if (session.demoLoad !== null) demoLoadControl(session, session.demoLoad);

  // For tests and curious people: the live state.
  (window as unknown as { dashboard: unknown }).dashboard = { client, state };
}

/** The demo's load control: extra events per second per project, set on the server for everyone. */
function demoLoadControl(session: Session, current: number): void {
  const select = $<HTMLSelectElement>('demo-rate');
  $('demo-load').hidden = false;
  select.value = String(current);
  select.addEventListener('change', () => {
    const change = async () => {
      const token = typeof session.token === 'string' ? session.token : await session.token();
      const res = await fetch('/demo/load', {
        method: 'PUT',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ eventsPerSecond: Number(select.value) }),
      });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
    };
    change().catch((err: unknown) =>
      notify(
        `The demo load could not be changed: ${err instanceof Error ? err.message : String(err)}.`,
      ),
    );
  });
}

openSession().then(start, (err: unknown) => {
  $('connection').textContent = 'Offline';
  $('connection').className = 'pill offline';
  notify(err instanceof Error ? err.message : String(err), 'connection');
});
