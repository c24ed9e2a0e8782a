import { AgentClient } from '../../client/agent-client.js';

/** A run an agent of the demo is working on, and how to stop it. */
export interface DemoRun {
  projectId: string;
  runId: string;
  readonly abort: AbortController;
  /** Who stopped it, in words, once someone did. */
  interruptedBy?: string;
  /** Settles when the run has its final event. */
  readonly ended: Promise<void>;
}

/**
 * One of the demo's agents: a real agent client of the gateway (it is online
 * in the demo projects while connected, and takes commands from the
 * dashboard), doing one run at a time.
 */
export class DemoAgent {
  run: DemoRun | null = null;
  constructor(
    readonly agentId: string,
    readonly client: AgentClient,
  ) {}
}

/**
 * The agents with nothing to do, and the work waiting for one. Bounded by
 * the simulator, which starts at most a few tasks per project at a time, each
 * waiting for at most one agent.
 */
export class DemoAgentPool {
  private readonly idle: DemoAgent[];
  private readonly waiters: ((agent: DemoAgent) => void)[] = [];

  constructor(readonly all: readonly DemoAgent[]) {
    this.idle = [...all];
  }

  /** The next idle agent, when there is one. */
  acquire(): Promise<DemoAgent> {
    const agent = this.idle.shift();
    if (agent) return Promise.resolve(agent);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /**
   * This agent (a command asked it by name): at once if idle, else when its
   * current run ends; rejects if `signal` aborts first.
   */
  claim(agent: DemoAgent, signal: AbortSignal): Promise<void> {
    const i = this.idle.indexOf(agent);
    if (i >= 0) {
      this.idle.splice(i, 1);
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const claims = this.claims.get(agent) ?? [];
      const claim = () => {
        signal.removeEventListener('abort', abort);
        resolve();
      };
      const abort = () => {
        claims.splice(claims.indexOf(claim), 1);
        reject(new Error('interrupted while waiting for the current run to end'));
      };
      claims.push(claim);
      this.claims.set(agent, claims);
      signal.addEventListener('abort', abort);
    });
  }

  /** Agents asked for by name, waiting for their current run to end. */
  private readonly claims = new Map<DemoAgent, (() => void)[]>();

  release(agent: DemoAgent): void {
    const claim = this.claims.get(agent)?.shift();
    if (claim) return claim();
    const waiter = this.waiters.shift();
    if (waiter) waiter(agent);
    else this.idle.push(agent);
  }

  close(): void {
    this.waiters.length = 0;
    for (const agent of this.all) agent.client.close();
  }
}
