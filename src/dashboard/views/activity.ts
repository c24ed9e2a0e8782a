import type { EventEnvelope } from '../../client/index.js';
import type { DashboardState } from '../state.js';

const ROW = 20;

/**
 * The event stream, newest first, virtually scrolled: only the rows in view
 * exist in the DOM, so 10,000 or 50,000 entries cost the same to render.
 */
export class ActivityView {
  private readonly spacer = document.createElement('div');
  private readonly rows: HTMLElement[] = [];
  private entries: EventEnvelope[] = [];

  constructor(
    private readonly root: HTMLElement,
    private readonly count: HTMLElement,
  ) {
    root.append(this.spacer);
    root.addEventListener('scroll', () => this.paint(), { passive: true });
  }

  render(state: DashboardState): void {
    this.entries = state.activity;
    this.spacer.style.height = `${this.entries.length * ROW}px`;
    this.count.textContent = `${this.entries.length} events`;
    this.paint();
  }

  private paint(): void {
    const total = this.entries.length;
    const first = Math.floor(this.root.scrollTop / ROW);
    const visible = Math.ceil(this.root.clientHeight / ROW) + 1;
    while (this.rows.length < visible) {
      const row = document.createElement('div');
      row.className = 'row';
      this.root.append(row);
      this.rows.push(row);
    }
    this.rows.forEach((row, i) => {
      const index = first + i;
      const event = index < total ? this.entries[total - 1 - index] : undefined;
      row.hidden = !event;
      if (!event) return;
      row.style.top = `${index * ROW}px`;
      row.textContent = `${event.occurredAt.slice(11, 23)}  ${event.type}  ${summary(event)}`;
    });
  }
}

function summary(event: EventEnvelope): string {
  const d = event.data as unknown as Record<string, unknown>;
  if (event.type === 'task.status.changed')
    return `${String(d.taskId)} ${String(d.from)} → ${String(d.to)}`;
  if (event.type === 'system.resource.sampled')
    return `${String(d.host)} cpu ${String(d.cpuPercent)}%`;
  return JSON.stringify(d).slice(0, 120);
}
