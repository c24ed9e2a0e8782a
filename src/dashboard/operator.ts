import {
  GatewayClientError,
  type CommandPayloads,
  type CommandType,
  type GatewayClient,
} from '../client/index.js';
import type { Agent, DashboardState } from './state.js';
import { describe } from './views/commands.js';

/**
 * What an operator does from the page: interrupt a run, retry a task,
 * cancel a command. Refusals and failures are told in words a person can
 * act on, through `notify`.
 */
export class Operator {
  /** Commands this page sent and that have not ended: their failures are told too. */
  private readonly mine = new Set<string>();

  constructor(
    private readonly client: GatewayClient,
    private readonly state: DashboardState,
    private readonly project: () => string,
    private readonly notify: (text: string) => void,
  ) {}

  interrupt(agentId: string, runId: string): void {
    void this.send(agentId, 'run.interrupt', { runId });
  }

  /** Sends `task.retry` to the task's last agent if it is connected and free, else to another connected one. */
  retry(taskId: string): void {
    const task = this.state.tasks.get(taskId);
    const last = task?.lastRunId ? this.state.runs.get(task.lastRunId)?.agentId : undefined;
    const free = (a: Agent | undefined) => a?.presence === 'online' && !a.runId;
    const online = [...this.state.agents.values()].filter((a) => a.presence === 'online');
    const agent =
      (last && free(this.state.agents.get(last)) ? last : undefined) ??
      online.find(free)?.agentId ??
      online[0]?.agentId;
    if (!agent) {
      this.notify(`No agent is connected to retry ${taskId}; try again when one is online.`);
      return;
    }
    void this.send(agent, 'task.retry', { taskId });
  }

  async cancel(commandId: string): Promise<void> {
    try {
      await this.client.interruptCommand(this.project(), commandId);
    } catch (err) {
      this.notify(this.explain(err, 'cancel that command'));
    }
  }

  /** After the commands changed: tells how this page's own commands failed or expired. */
  review(): void {
    for (const id of this.mine) {
      const command = this.state.commands.get(id);
      if (!command) continue;
      if (command.state === 'failed')
        this.notify(
          `${command.agentId} could not ${describe(command)}: ${command.detail ?? 'no reason given'}.`,
        );
      if (command.state === 'expired')
        this.notify(
          `${command.agentId} did not take “${describe(command)}” in time: it was not connected.`,
        );
      if (command.state !== 'requested' && command.state !== 'accepted') this.mine.delete(id);
    }
  }

  /** Forgets the commands of the project left. */
  reset(): void {
    this.mine.clear();
  }

  private async send<C extends CommandType>(
    agentId: string,
    command: C,
    args: CommandPayloads[C],
  ): Promise<void> {
    const what = `${describe({ command, args: { ...args } })} on ${agentId}`;
    try {
      const { commandId } = await this.client.command(this.project(), agentId, command, args);
      this.mine.add(commandId);
    } catch (err) {
      this.notify(this.explain(err, what));
    }
  }

  /** A refused command, in words a person can act on. */
  private explain(err: unknown, what: string): string {
    if (!(err instanceof GatewayClientError)) return `Could not ${what}: ${String(err)}`;
    switch (err.code) {
      case 'FORBIDDEN':
        return `You may not command agents in ${this.project()}: your token lacks the agents:command scope for it.`;
      case 'RATE_LIMITED':
        return `Too many commands in a short time; wait a second and try again to ${what}.`;
      case 'QUEUE_FULL':
        return `Could not ${what}: that agent already has too many commands waiting.`;
      case 'UNAVAILABLE':
        return `Could not ${what}: the page is not connected over WebSocket right now. It works again once the page shows Live.`;
      default:
        return `Could not ${what}: ${err.message} (${err.code}).`;
    }
  }
}
