import { TASK_COLUMNS, type DashboardState } from '../state.js';

/** Status columns with one card per task; a card moves by being re-parented, not re-created. */
export class BoardView {
  private readonly lists = new Map<string, HTMLElement>();
  private readonly cards = new Map<string, HTMLElement>();

  constructor(root: HTMLElement) {
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
        card.innerHTML = '<b></b><br /><small></small>';
        card.querySelector('b')!.textContent = task.taskId;
        this.cards.set(task.taskId, card);
      }
      card.querySelector('small')!.textContent = new Date(task.updatedAt).toLocaleTimeString();
      const list = this.lists.get(task.status) ?? this.lists.get('active')!;
      if (card.parentElement !== list) list.prepend(card);
    }
  }
}
