import { http } from './http.js';

/**
 * Publishes task events through the HTTP API at a steady pace until stopped,
 * to whichever replica `nextUrl` names (a load balancer), and records the ids
 * of accepted events. A refused or failed request is counted, not retried:
 * what was accepted is what viewers must see.
 */
export class Publisher {
  readonly accepted: string[] = [];
  failures = 0;
  private running = true;
  private readonly done: Promise<void>;

  constructor(
    private readonly nextUrl: () => string,
    private readonly projectId: string,
    private readonly token: string,
    private readonly everyMs = 10,
  ) {
    this.done = this.loop();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }

  private async loop(): Promise<void> {
    let n = 0;
    while (this.running) {
      n++;
      try {
        const res = await http('POST', `${this.nextUrl()}/api/projects/${this.projectId}/events`, {
          token: this.token,
          body: {
            type: 'task.status.changed',
            data: { taskId: `t${n % 50}`, from: null, to: 'active' },
          },
        });
        if (res.status === 202) this.accepted.push(...(res.body.ids as string[]));
        else this.failures++;
      } catch {
        this.failures++;
      }
      await new Promise((r) => setTimeout(r, this.everyMs));
    }
  }
}
