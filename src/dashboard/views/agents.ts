import type { DashboardState } from '../state.js';

/** Agents with their status and active runs; a run's button opens its log. */
export class AgentsView {
  constructor(
    private readonly root: HTMLElement,
    private readonly openLog: (runId: string) => void,
  ) {}

  render(state: DashboardState): void {
    const items: HTMLElement[] = [];
    for (const agent of [...state.agents.values()].sort((a, b) =>
      a.agentId.localeCompare(b.agentId),
    )) {
      const li = document.createElement('li');
      const name = document.createElement('span');
      name.textContent = agent.agentId;
      const status = document.createElement('span');
      status.className = `status-${agent.status}`;
      status.textContent = agent.status;
      li.append(name, status);
      for (const run of state.runs.values()) {
        if (run.agentId !== agent.agentId || run.state !== 'running') continue;
        const button = document.createElement('button');
        button.type = 'button';
        button.textContent = `log ${run.runId}`;
        button.dataset.run = run.runId;
        button.addEventListener('click', () => this.openLog(run.runId));
        li.append(button);
      }
      items.push(li);
    }
    this.root.replaceChildren(...items);
  }
}
