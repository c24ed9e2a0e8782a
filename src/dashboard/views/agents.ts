import type { Agent, DashboardState } from '../state.js';
import { placeAfter } from './keyed.js';

/** Rows shown at most; the rest are counted. */
const MAX_ROWS = 40;

export interface AgentActions {
  openLog(runId: string): void;
  interrupt(agentId: string, runId: string): void;
}

/** Busy first, then idle, in error, and last the ones not connected. */
function rank(agent: Agent): number {
  if (agent.presence === 'offline') return 3;
  if (agent.runId) return 0;
  return agent.status === 'error' ? 2 : 1;
}

/**
 * The agents: connected or not, what they are doing, and for a running run
 * a button to open its log and one to interrupt it. Rows are kept per agent
 * and updated in place, so a button does not move from under the pointer
 * while its run lasts.
 */
export class AgentsView {
  private readonly rows = new Map<string, HTMLLIElement>();
  private readonly more = document.createElement('li');

  constructor(
    private readonly root: HTMLElement,
    private readonly count: HTMLElement,
    actions: AgentActions,
  ) {
    this.more.className = 'more muted';
    root.addEventListener('click', (e) => {
      const button = (e.target as HTMLElement).closest('button');
      const row = button?.closest<HTMLElement>('[data-agent]');
      const runId = row?.dataset.run;
      if (!button || !row || !runId) return;
      if (button.dataset.action === 'log') actions.openLog(runId);
      if (button.dataset.action === 'interrupt') actions.interrupt(row.dataset.agent!, runId);
    });
  }

  render(state: DashboardState): void {
    const agents = [...state.agents.values()].sort(
      (a, b) => rank(a) - rank(b) || a.agentId.localeCompare(b.agentId),
    );
    const online = agents.filter((a) => a.presence === 'online').length;
    this.count.textContent = agents.length ? `${online} online · ${agents.length} seen` : '';
    const shown = agents.slice(0, MAX_ROWS);
    const keep = new Set(shown.map((a) => a.agentId));
    for (const [agentId, row] of this.rows) {
      if (keep.has(agentId)) continue;
      row.remove();
      this.rows.delete(agentId);
    }
    if (!agents.length) {
      this.more.textContent = 'No agent has connected yet.';
      this.root.replaceChildren(this.more);
      return;
    }
    let previous: Element | null = null;
    for (const agent of shown) {
      const row = this.row(agent);
      this.update(row, agent, state);
      placeAfter(this.root, previous, row);
      previous = row;
    }
    const hidden = agents.length - shown.length;
    this.more.textContent = `and ${hidden} more`;
    if (hidden > 0) this.root.append(this.more);
    else this.more.remove();
  }

  private row(agent: Agent): HTMLLIElement {
    let row = this.rows.get(agent.agentId);
    if (row) return row;
    row = document.createElement('li');
    row.dataset.agent = agent.agentId;
    row.innerHTML =
      '<span class="dot"></span><span class="name"></span><span class="what"></span>' +
      '<button type="button" data-action="log">Log</button>' +
      '<button type="button" data-action="interrupt" class="danger">Interrupt</button>';
    row.querySelector('.name')!.textContent = agent.agentId;
    this.rows.set(agent.agentId, row);
    return row;
  }

  private update(row: HTMLLIElement, agent: Agent, state: DashboardState): void {
    const presence = agent.presence ?? 'unknown';
    const run = agent.runId ? state.runs.get(agent.runId) : undefined;
    const what =
      presence === 'offline'
        ? 'not connected'
        : run
          ? `${run.subtaskId ?? run.taskId} · ${run.runId}`
          : agent.status;
    row.className = `presence-${presence} status-${run ? 'busy' : agent.status}`;
    row.querySelector('.dot')!.setAttribute('title', presence);
    const label = row.querySelector('.what')!;
    if (label.textContent !== what) label.textContent = what;
    if (run) row.dataset.run = run.runId;
    else delete row.dataset.run;
    row.querySelectorAll('button').forEach((button) => (button.hidden = !run));
  }
}
