import type { EventEnvelope } from '../../client/index.js';

/** Lines kept in the panel. */
const MAX_LINES = 5000;

/**
 * One run's log: line numbers, timestamps, auto-scroll that pauses while the
 * reader has scrolled up (and resumes at the bottom), and a copy button.
 */
export class LogPanel {
  private lines: EventEnvelope[] = [];
  private following = true;
  private unseen = 0;

  constructor(
    private readonly list: HTMLOListElement,
    private readonly title: HTMLElement,
    private readonly paused: HTMLElement,
    copy: HTMLButtonElement,
  ) {
    list.addEventListener(
      'scroll',
      () => {
        this.following = list.scrollTop + list.clientHeight >= list.scrollHeight - 4;
        if (this.following) this.unseen = 0;
        this.status();
      },
      { passive: true },
    );
    copy.addEventListener('click', () => {
      const text = this.lines
        .map(
          (l) =>
            `${(l.data as { lineNumber: number }).lineNumber} ${(l.data as { line: string }).line}`,
        )
        .join('\n');
      void navigator.clipboard?.writeText(text);
    });
  }

  open(runId: string): void {
    this.lines = [];
    this.list.replaceChildren();
    this.title.textContent = runId;
    this.following = true;
    this.unseen = 0;
    this.status();
  }

  /** No run open (after a project switch). */
  close(): void {
    this.open('');
    this.title.textContent = 'click a task, a subtask or a running agent to see its log';
  }

  append(lines: EventEnvelope[]): void {
    const fragment = document.createDocumentFragment();
    for (const line of lines) {
      const data = line.data as { line: string; lineNumber: number; level?: string };
      const li = document.createElement('li');
      li.value = data.lineNumber;
      if (data.level) li.className = `level-${data.level}`;
      const time = document.createElement('time');
      time.textContent = line.occurredAt.slice(11, 23);
      li.append(time, document.createTextNode(data.line));
      fragment.append(li);
    }
    this.lines.push(...lines);
    this.list.append(fragment);
    while (this.list.childElementCount > MAX_LINES) this.list.firstElementChild?.remove();
    if (this.lines.length > MAX_LINES) this.lines.splice(0, this.lines.length - MAX_LINES);
    if (this.following) this.list.scrollTop = this.list.scrollHeight;
    else this.unseen += lines.length;
    this.status();
  }

  private status(): void {
    this.paused.hidden = this.following;
    this.paused.textContent = `paused · ${this.unseen} new lines below`;
  }
}
