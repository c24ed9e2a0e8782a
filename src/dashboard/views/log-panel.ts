import type { EventEnvelope } from '../../client/index.js';

/** Lines kept in the panel. */
const MAX_LINES = 5000;

/**
 * One run's log, in a panel that slides in from the side: line numbers,
 * timestamps, auto-scroll that pauses while the reader has scrolled up (and
 * resumes at the bottom), a copy button, and a close button (or Escape).
 */
export class LogPanel {
  private lines: EventEnvelope[] = [];
  private following = true;
  private unseen = 0;

  constructor(
    private readonly panel: HTMLElement,
    private readonly list: HTMLOListElement,
    private readonly title: HTMLElement,
    private readonly paused: HTMLElement,
    copy: HTMLButtonElement,
    close: HTMLButtonElement,
    private readonly onClose: () => void,
  ) {
    close.addEventListener('click', () => this.close());
    document.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && !panel.hidden) this.close();
    });
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
    this.panel.hidden = false;
  }

  /** Hides the panel and drops its lines (a closed log costs nothing). */
  close(): void {
    if (this.panel.hidden) return;
    this.panel.hidden = true;
    this.lines = [];
    this.list.replaceChildren();
    this.onClose();
  }

  /** A line from the page itself (not the run's), set apart. */
  say(text: string): void {
    const li = document.createElement('li');
    li.className = 'note';
    li.textContent = text;
    this.list.append(li);
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
