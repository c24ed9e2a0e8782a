import { TASK_COLUMNS, type DashboardState, type Task } from '../state.js';

export interface BoardActions {
  openLog(runId: string): void;
  retry(taskId: string): void;
}

/**
 * Status columns with one card per task, its subtasks under it. A card
 * moves by being re-parented, not re-created. Clicking a card (or a
 * subtask) opens the log of its latest run; a task with a failed step has
 * a Retry button.
 */
export class BoardView {
  private readonly lists = new Map<string, HTMLElement>();
  private readonly cards = new Map<string, HTMLElement>();

  constructor(root: HTMLElement, actions: BoardActions) {
    root.replaceChildren();
    for (const status of TASK_COLUMNS) {
      const column = document.createElement('div');
      column.className = 'column';
      column.dataset.testid = `column-${status}`;
      const title = document.createElement('h3');
      title.textContent = status.replace('_', ' ');
      const list = document.createElement('div');
      column.append(title, list);
      root.append(column);
      this.lists.set(status, list);
    }
    root.addEventListener('click', (e) => {
      const target = e.target as HTMLElement;
      const card = target.closest<HTMLElement>('[data-task]');
      if (!card) return;
      if (target.closest('button[data-action=retry]')) return actions.retry(card.dataset.task!);
      const run = target.closest<HTMLElement>('[data-run]')?.dataset.run;
      if (run) actions.openLog(run);
    });
  }

  render(state: DashboardState): void {
    for (const [taskId, card] of this.cards) {
      if (!state.tasks.has(taskId)) {
        card.remove();
        this.cards.delete(taskId);
      }
    }
    for (const task of state.tasks.values()) {
      let card = this.cards.get(task.taskId);
      if (!card) {
        card = document.createElement('div');
        card.className = 'card';
        card.dataset.task = task.taskId;
        card.innerHTML =
          '<b></b> <small></small><button type="button" data-action="retry">Retry</button><ul class="subtasks"></ul>';
        card.querySelector('b')!.textContent = task.taskId;
        this.cards.set(task.taskId, card);
      }
      this.update(card, task, state);
      const list = this.lists.get(task.status) ?? this.lists.get('active')!;
      if (card.parentElement !== list) list.prepend(card);
    }
  }

  private update(card: HTMLElement, task: Task, state: DashboardState): void {
    const failed = state.failed(task);
    card.classList.toggle('failed', failed);
    card.querySelector<HTMLButtonElement>('button[data-action=retry]')!.hidden = !failed;
    if (task.lastRunId) card.dataset.run = task.lastRunId;
    card.querySelector('small')!.textContent = task.updatedAt
      ? new Date(task.updatedAt).toLocaleTimeString()
      : '';
    const list = card.querySelector('ul')!;
    const items = list.children;
    let i = 0;
    for (const subtask of task.subtasks.values()) {
      let li = items[i++] as HTMLLIElement | undefined;
      if (!li) {
        li = document.createElement('li');
        list.append(li);
      }
      const name = subtask.subtaskId.startsWith(`${task.taskId}-`)
        ? subtask.subtaskId.slice(task.taskId.length + 1)
        : subtask.subtaskId;
      li.textContent = `${name} · ${subtask.status.replace('_', ' ')}`;
      li.className = `sub-${subtask.status}`;
      li.dataset.subtask = subtask.subtaskId;
      if (subtask.lastRunId) li.dataset.run = subtask.lastRunId;
    }
  }
}
