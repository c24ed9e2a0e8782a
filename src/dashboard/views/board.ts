import { TASK_COLUMNS, type DashboardState, type Task } from '../state.js';
import { placeAfter } from './keyed.js';

/** What an empty column says (not a blank box that looks broken). */
const EMPTY: Record<string, string> = {
  planning: 'No task is being planned.',
  active: 'No task in progress.',
  planning_failed: 'No failed plan. Failed plans wait here for a retry.',
  done: 'Nothing finished yet.',
};

export interface BoardActions {
  openLog(runId: string): void;
  /** A task (or subtask) with no run this page knows of was clicked. */
  noRun(taskId: string): void;
  retry(taskId: string): void;
}

/** Cards shown per column at first, and added by each "show more". */
const PAGE = 20;

/**
 * Status columns, each with its most recent tasks (20, more on demand) and
 * the count of all; one card per task, its subtasks under it. A card is
 * re-parented when its task moves, not re-created. Clicking a card (or a
 * subtask) opens the log of its latest run; a task with a failed step has a
 * Retry button.
 */
export class BoardView {
  private readonly columns = new Map<
    string,
    { list: HTMLElement; count: HTMLElement; more: HTMLButtonElement; limit: number }
  >();
  private readonly cards = new Map<string, HTMLElement>();

  constructor(root: HTMLElement, actions: BoardActions, onMore: () => void) {
    root.replaceChildren();
    for (const status of TASK_COLUMNS) {
      const column = document.createElement('div');
      column.className = 'column';
      column.dataset.testid = `column-${status}`;
      const title = document.createElement('h3');
      title.textContent = `${status.replace('_', ' ')} `;
      const count = document.createElement('span');
      count.className = 'count';
      title.append(count);
      const list = document.createElement('div');
      list.className = 'cards';
      const more = document.createElement('button');
      more.type = 'button';
      more.className = 'more';
      more.hidden = true;
      const entry = { list, count, more, limit: PAGE };
      more.addEventListener('click', () => {
        entry.limit += PAGE;
        onMore();
      });
      column.append(title, list, more);
      root.append(column);
      this.columns.set(status, entry);
    }
    root.addEventListener('click', (e) => {
      const target = e.target as HTMLElement;
      const card = target.closest<HTMLElement>('[data-task]');
      if (!card) return;
      if (target.closest('button[data-action=retry]')) return actions.retry(card.dataset.task!);
      const run = target.closest<HTMLElement>('[data-run]')?.dataset.run;
      if (run) actions.openLog(run);
      else actions.noRun(card.dataset.task!);
    });
  }

  /** Back to the first page of each column (another project). */
  reset(): void {
    for (const column of this.columns.values()) column.limit = PAGE;
  }

  render(state: DashboardState): void {
    const byStatus = new Map<string, Task[]>(TASK_COLUMNS.map((s) => [s, []]));
    for (const task of state.tasks.values())
      (byStatus.get(task.status) ?? byStatus.get('active')!).push(task);
    const shown = new Set<string>();
    for (const [status, tasks] of byStatus) {
      const column = this.columns.get(status)!;
      // Newest change first.
      tasks.sort((a, b) => (a.updatedAt < b.updatedAt ? 1 : a.updatedAt > b.updatedAt ? -1 : 0));
      const total = status === 'done' ? Math.max(state.doneCount, tasks.length) : tasks.length;
      column.count.textContent = total ? String(total) : '';
      let previous: Element | null = null;
      for (const task of tasks.slice(0, column.limit)) {
        const card = this.card(task);
        this.update(card, task, state);
        shown.add(task.taskId);
        placeAfter(column.list, previous, card);
        previous = card;
      }
      const hidden = tasks.length - column.limit;
      column.more.hidden = hidden <= 0;
      column.more.textContent = `show ${Math.min(PAGE, hidden)} more`;
      if (!tasks.length && !column.list.firstElementChild?.classList.contains('empty')) {
        column.list.innerHTML = `<p class="empty muted">${EMPTY[status]}</p>`;
      } else if (tasks.length) column.list.querySelector(':scope > .empty')?.remove();
    }
    for (const [taskId, card] of this.cards) {
      if (shown.has(taskId)) continue;
      card.remove();
      this.cards.delete(taskId);
    }
  }

  private card(task: Task): HTMLElement {
    let card = this.cards.get(task.taskId);
    if (card) return card;
    card = document.createElement('div');
    card.className = 'card';
    card.dataset.task = task.taskId;
    card.innerHTML =
      '<div class="line"><b></b><small></small><button type="button" data-action="retry">Retry</button></div><ul class="subtasks"></ul>';
    card.querySelector('b')!.textContent = task.taskId;
    card.title = 'Open the log of its latest run';
    this.cards.set(task.taskId, card);
    return card;
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
    const subtasks = [...task.subtasks.values()].sort((a, b) =>
      a.subtaskId.localeCompare(b.subtaskId),
    );
    for (const subtask of subtasks) {
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
