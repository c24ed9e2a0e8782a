import { FINAL_COMMAND_STATES, type Command, type DashboardState } from '../state.js';

/** What a command asked, in a few words. */
export function describe(command: Pick<Command, 'command' | 'args'>): string {
  const args = command.args;
  switch (command.command) {
    case 'run.interrupt':
      return `interrupt ${String(args.runId)}`;
    case 'task.retry':
      return `retry ${String(args.taskId)}`;
    case 'agent.instruct':
      return `instruct: ${String(args.text).slice(0, 60)}`;
    default:
      return command.command;
  }
}

/**
 * The project's recent commands, newest first, each with its state as it
 * moves (requested, accepted, then completed, failed, interrupted or
 * expired) and what the agent answered; one still in flight can be
 * cancelled.
 */
export class CommandsView {
  private readonly rows = new Map<string, HTMLLIElement>();

  constructor(
    private readonly root: HTMLElement,
    cancel: (commandId: string) => void,
  ) {
    root.addEventListener('click', (e) => {
      const button = (e.target as HTMLElement).closest('button[data-action=cancel]');
      const id = button?.closest<HTMLElement>('[data-command]')?.dataset.command;
      if (id) cancel(id);
    });
  }

  render(state: DashboardState): void {
    for (const [id, row] of this.rows) {
      if (state.commands.has(id)) continue;
      row.remove();
      this.rows.delete(id);
    }
    if (!state.commands.size) {
      this.root.innerHTML =
        '<li class="muted">No commands yet. Interrupt a running agent or retry a failed task to send one.</li>';
      return;
    }
    this.root.querySelector(':scope > li:not([data-command])')?.remove();
    for (const command of state.commands.values()) {
      let row = this.rows.get(command.commandId);
      if (!row) {
        row = document.createElement('li');
        row.dataset.command = command.commandId;
        row.innerHTML =
          '<span class="state"></span><span class="what"></span><span class="detail muted"></span>' +
          '<button type="button" data-action="cancel">Cancel</button>';
        row.querySelector('.what')!.textContent = `${describe(command)} → ${command.agentId}`;
        this.rows.set(command.commandId, row);
        this.root.prepend(row);
      }
      row.dataset.state = command.state;
      const state = row.querySelector('.state')!;
      state.textContent = command.state;
      state.className = `state state-${command.state}`;
      row.querySelector('.detail')!.textContent = command.detail
        ? command.state === 'interrupted'
          ? `by ${command.detail}`
          : command.detail
        : '';
      row.querySelector('button')!.hidden = FINAL_COMMAND_STATES.has(command.state);
    }
  }
}
