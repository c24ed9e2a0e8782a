import { randomUUID } from 'node:crypto';
import { COMMAND_REGISTRY, commandOwner, isCommandType } from '../../core/commands.js';
import type { EventEnvelope, PublishInput } from '../../core/envelope.js';
import { GatewayError } from '../../core/errors.js';
import { compareStreamIds } from '../../core/ids.js';
import {
  conflictWith,
  type EventStore,
  type Expectation,
  type LiveSubscription,
} from '../../core/event-store.port.js';
import type { EventPublisher } from '../../core/publisher.js';
import { FINAL_COMMAND_EVENTS } from '../../core/registry.js';
import type { JsonLogger } from '../../core/support/json-logger.js';
import { validateDto } from '../../core/support/validate-dto.js';
import type { CommandRequested } from '../../core/payloads.js';
import type { CommandDelivery } from '../../protocol/socket-events.js';
import { canAccessProject, hasScope, type Principal } from '../auth/principal.js';
import type { RateLimits } from '../sessions/rate-limits.js';
import type { PresenceLeases } from './presence-leases.port.js';

/** Tries of an agent report that finds its command moved under it. */
const STEP_ATTEMPTS = 3;

/** The scope a dashboard's token needs to send commands to a project's agents. */
export const COMMAND_SCOPE = 'agents:command';

/** An agent's connection, whatever carries it: where its commands and interrupts go. */
export interface AgentConnection {
  readonly id: string;
  readonly agentId: string;
  readonly projects: readonly string[];
  isOpen(): boolean;
  command(delivery: CommandDelivery): void;
  interrupt(projectId: string, commandId: string): void;
}

export interface AgentsOptions {
  /** This replica's name, in presence events. */
  replica: string;
  presenceTimeoutMs: number;
  commandTtlMs: number;
  queueMaxPerAgent: number;
  commandMaxBytes: number;
}

interface Lease {
  member: string;
  projectId: string;
  /** The id of the presence event this connection published: its presence's version. */
  version: string;
}

interface Held {
  readonly connection: AgentConnection;
  readonly leases: Lease[];
  /** Command id -> project of the commands delivered to it (its reports may omit the project). */
  readonly delivered: Map<string, string>;
}

type CommandState = EventEnvelope & { data: { commandId: string; agentId: string } };

/**
 * Agents and commands on this replica, the same for every transport, with no
 * state another replica's answer depends on: a command is an entity of the
 * project stream (`command:<id>`, its latest event its state), every step a
 * conditional append on it, so each command reaches exactly one final event
 * whichever replicas race; presence is an entity too (`presence:<agentId>`),
 * guarded by leases any replica can see expire.
 *
 * Routing: a replica with an agent of a project connected listens to that
 * project's `command.*` events; a `command.requested` for the agent is handed
 * to its connection there, wherever the request was made, and so is a
 * `command.interrupted`. Commands for an agent that is not connected wait in
 * the snapshot (requested, not accepted) and are handed over when it
 * connects; a connection that comes back gets its unfinished ones again
 * (delivery is at least once; the agent SDK drops duplicates by id).
 */
export class AgentsService {
  private readonly byConnection = new Map<string, Held>();
  /** The same connections by agent id: where a command event for an agent goes, without a scan. */
  private readonly byAgent = new Map<string, Set<Held>>();
  /** Project -> this replica's live subscription to its command events, and how many agents use it. */
  private readonly listening = new Map<
    string,
    { live: Promise<LiveSubscription>; users: number }
  >();
  private readonly timers: NodeJS.Timeout[] = [];
  /** Commands this replica knows of, by project and id, and when to look at them again. */
  private readonly deadlines = new Map<
    string,
    { projectId: string; commandId: string; agentId: string; at: number }
  >();

  constructor(
    private readonly store: EventStore,
    private readonly publisher: EventPublisher,
    private readonly leases: PresenceLeases,
    private readonly rateLimits: RateLimits,
    private readonly options: AgentsOptions,
    private readonly logger: JsonLogger,
  ) {}

  /** Starts the lease renewal and the sweeps (expired leases, expired commands). */
  start(): void {
    const every = Math.max(500, Math.floor(this.options.presenceTimeoutMs / 3));
    const timer = setInterval(() => void this.tick(), every);
    timer.unref();
    this.timers.push(timer);
  }

  stop(): void {
    this.timers.splice(0).forEach(clearInterval);
  }

  /** Connected agents on this replica (metrics, leak checks). */
  get size(): number {
    return this.byConnection.size;
  }

  /** What this replica holds for agents and commands, for `gateway_internal_objects`. */
  counts(): Record<'agents' | 'agent_index' | 'command_listeners' | 'watched_commands', number> {
    return {
      agents: this.byConnection.size,
      agent_index: this.byAgent.size,
      command_listeners: this.listening.size,
      watched_commands: this.deadlines.size,
    };
  }

  // ---- agents --------------------------------------------------------------

  /** An agent connected: online in each of its projects, its commands routed here, its waiting ones handed over. */
  async connect(connection: AgentConnection): Promise<void> {
    const held: Held = { connection, leases: [], delivered: new Map() };
    this.byConnection.set(connection.id, held);
    const ofAgent = this.byAgent.get(connection.agentId) ?? new Set<Held>();
    this.byAgent.set(connection.agentId, ofAgent.add(held));
    for (const projectId of connection.projects) {
      await this.listen(projectId);
      const lease = await this.online(connection, projectId);
      held.leases.push(lease);
    }
    for (const projectId of connection.projects) await this.handOver(held, projectId);
  }

  /** An agent disconnected cleanly: offline in each project, unless it is online again elsewhere. */
  async disconnect(connection: AgentConnection): Promise<void> {
    const held = this.byConnection.get(connection.id);
    if (!held) return;
    this.byConnection.delete(connection.id);
    const ofAgent = this.byAgent.get(connection.agentId);
    ofAgent?.delete(held);
    if (ofAgent?.size === 0) this.byAgent.delete(connection.agentId);
    for (const projectId of connection.projects) this.unlisten(projectId);
    for (const lease of held.leases) {
      if (await this.leases.release(lease.member).catch(() => false)) {
        await this.offline(connection.agentId, lease.projectId, lease.version);
      }
    }
  }

  /** An agent accepted a command it was given. */
  accepted(agent: Principal, connectionId: string, commandId: string, projectId?: string) {
    return this.step(agent, connectionId, commandId, projectId, (state) => {
      // Accepting twice (a redelivery) is a no-op.
      if (state.type === 'command.accepted') return null;
      return { type: 'command.accepted', data: { commandId, agentId: agent.sub } };
    });
  }

  completed(
    agent: Principal,
    connectionId: string,
    commandId: string,
    projectId: string | undefined,
    result: string | undefined,
  ) {
    return this.step(agent, connectionId, commandId, projectId, () => ({
      type: 'command.completed',
      data: { commandId, agentId: agent.sub, ...(result !== undefined ? { result } : {}) },
    }));
  }

  failed(
    agent: Principal,
    connectionId: string,
    commandId: string,
    projectId: string | undefined,
    error: string,
  ) {
    return this.step(agent, connectionId, commandId, projectId, () => ({
      type: 'command.failed',
      data: { commandId, agentId: agent.sub, error },
    }));
  }

  // ---- dashboards ----------------------------------------------------------

  /**
   * `command:request`: validated against the command registry, authorized
   * (`agents:command` on the project), rate limited per user, bounded per
   * agent; then `command.requested` is appended (on the condition that the
   * command id is new). Resolves with the command id. A retry with the same
   * `commandId` and the same request answers the same and appends nothing.
   */
  async request(
    principal: Principal,
    request: {
      projectId: string;
      agentId: string;
      command: string;
      args: Record<string, unknown>;
      commandId?: string;
    },
  ): Promise<string> {
    const { projectId, agentId, command } = request;
    requireCommander(principal, projectId);
    if (!isCommandType(command)) {
      throw new GatewayError('INVALID_PAYLOAD', `unknown command ${JSON.stringify(command)}`, [
        { path: 'command', problem: `must be one of ${Object.keys(COMMAND_REGISTRY).join(', ')}` },
      ]);
    }
    const bytes = Buffer.byteLength(JSON.stringify(request.args));
    if (bytes > this.options.commandMaxBytes) {
      throw new GatewayError(
        'PAYLOAD_TOO_LARGE',
        `command args are ${bytes} bytes; at most ${this.options.commandMaxBytes}`,
      );
    }
    const payload: new () => object = COMMAND_REGISTRY[command];
    const args = { ...validateDto(payload, request.args, 'args') } as Record<string, unknown>;
    await this.rateLimits.requireCommand(principal.sub);
    const commandId = request.commandId ?? randomUUID().replace(/-/g, '');
    const key = `command:${commandId}`;
    const [existing] = (await this.store.readEntities(projectId, [key])) as (CommandState | null)[];
    if (existing) return this.sameRequest(existing, principal, request, commandId);
    // The agent's unfinished commands, from the store's index: no snapshot read per request.
    const waiting = (await this.store.readOpen(projectId, commandOwner(agentId))).length;
    if (waiting >= this.options.queueMaxPerAgent) {
      throw new GatewayError(
        'QUEUE_FULL',
        `agent ${agentId} has ${waiting} unfinished commands; at most ${this.options.queueMaxPerAgent}`,
      );
    }
    const data: CommandRequested = {
      commandId,
      agentId,
      command,
      args,
      requestedBy: principal.sub,
      expiresAt: new Date(Date.now() + this.options.commandTtlMs).toISOString(),
    };
    try {
      await this.publish(projectId, { type: 'command.requested', projectId, data }, [
        { entityKey: key, version: null },
      ]);
      this.watch(projectId, commandId, agentId);
    } catch (err) {
      // The same id requested at the same moment elsewhere: the same request is answered as one.
      if (!(err instanceof GatewayError && err.code === 'CONFLICT')) throw err;
      const [now] = await this.store.readEntities(projectId, [key]);
      if (!now) throw err;
      return this.sameRequest(now as CommandState, principal, request, commandId);
    }
    return commandId;
  }

  /** `command:interrupt`: `command.interrupted`, unless the command already ended; the agent is told. */
  async interrupt(principal: Principal, projectId: string, commandId: string): Promise<void> {
    requireCommander(principal, projectId);
    await this.rateLimits.requireCommand(principal.sub);
    const key = `command:${commandId}`;
    const [state] = (await this.store.readEntities(projectId, [key])) as (CommandState | null)[];
    if (!state) throw new GatewayError('NOT_FOUND', `no command ${commandId} in ${projectId}`);
    if (FINAL_COMMAND_EVENTS.has(state.type)) throw ended(key, state);
    await this.publish(
      projectId,
      {
        type: 'command.interrupted',
        projectId,
        data: { commandId, agentId: state.data.agentId, requestedBy: principal.sub },
      },
      [{ entityKey: key, version: state.id }],
    );
  }

  // ---- internals -------------------------------------------------------------

  private sameRequest(
    existing: CommandState,
    principal: Principal,
    request: { agentId: string; command: string },
    commandId: string,
  ): string {
    const first = existing.type === 'command.requested' ? existing : null;
    const data = first?.data as CommandRequested | undefined;
    const same =
      existing.data.agentId === request.agentId &&
      (data === undefined ||
        (data.command === request.command && data.requestedBy === principal.sub));
    if (!same) {
      throw conflictWith(`command:${commandId}`, existing);
    }
    return commandId;
  }

  /** One agent report: the command must be this agent's, and not ended; appended on its version. */
  private async step(
    agent: Principal,
    connectionId: string,
    commandId: string,
    projectHint: string | undefined,
    next: (state: CommandState) => PublishInput | Omit<PublishInput, 'projectId'> | null,
  ): Promise<void> {
    const held = this.byConnection.get(connectionId);
    const projectId = held?.delivered.get(commandId) ?? projectHint;
    if (!projectId || !canAccessProject(agent, projectId)) {
      throw new GatewayError('NOT_FOUND', `no command ${commandId} for this agent`);
    }
    const key = `command:${commandId}`;
    // Reports of one command may cross (its completion sent before its
    // acceptance was written): one that finds the command moved reads again.
    for (let attempt = 1; ; attempt++) {
      const [state] = (await this.store.readEntities(projectId, [key])) as (CommandState | null)[];
      if (!state || state.data.agentId !== agent.sub) {
        throw new GatewayError('NOT_FOUND', `no command ${commandId} for this agent`);
      }
      if (FINAL_COMMAND_EVENTS.has(state.type)) throw ended(key, state);
      const event = next(state);
      if (!event) return;
      try {
        await this.publish(projectId, { ...event, projectId } as PublishInput, [
          { entityKey: key, version: state.id },
        ]);
      } catch (err) {
        const moved = err instanceof GatewayError && err.code === 'CONFLICT';
        if (moved && attempt < STEP_ATTEMPTS) continue;
        throw err;
      }
      if (FINAL_COMMAND_EVENTS.has(event.type)) held?.delivered.delete(commandId);
      return;
    }
  }

  private async publish(
    projectId: string,
    event: PublishInput,
    expectations: Expectation[] = [],
  ): Promise<EventEnvelope> {
    const [stored] = await this.publisher.publishUnchecked(
      projectId,
      [event],
      'gateway',
      expectations,
    );
    return stored;
  }

  /**
   * The lease first, then the online event: a replica that dies in between
   * leaves a lease that expires, and the agent is published offline; the
   * other order could leave it online for ever.
   */
  private async online(connection: AgentConnection, projectId: string): Promise<Lease> {
    const { agentId } = connection;
    const { replica } = this.options;
    const member = JSON.stringify([projectId, agentId, connection.id, replica]);
    await this.leases.hold(member, Date.now() + this.options.presenceTimeoutMs);
    const event = await this.publish(projectId, {
      type: 'agent.presence.changed',
      projectId,
      data: { agentId, to: 'online', replica },
    });
    return { member, projectId, version: event.id };
  }

  /** A lease expired: offline, if the agent is still online through that replica. */
  private async expired(member: string): Promise<void> {
    const [projectId, agentId, , replica] = JSON.parse(member) as string[];
    const [presence] = await this.store.readEntities(projectId, [`presence:${agentId}`]);
    const data = presence?.data as { to?: string; replica?: string } | undefined;
    if (!presence || data?.to !== 'online' || data.replica !== replica) return;
    await this.offline(agentId, projectId, presence.id, replica);
  }

  /** Offline, on the condition that nothing changed the presence since `version` (a reconnect elsewhere). */
  private async offline(
    agentId: string,
    projectId: string,
    version: string,
    replica = this.options.replica,
  ): Promise<void> {
    try {
      await this.publish(
        projectId,
        {
          type: 'agent.presence.changed',
          projectId,
          data: { agentId, to: 'offline', replica },
        },
        [{ entityKey: `presence:${agentId}`, version }],
      );
    } catch (err) {
      if (err instanceof GatewayError && err.code === 'CONFLICT') return;
      this.logger.event('warn', 'could not publish an agent offline', {
        agentId,
        projectId,
        error: err,
      });
    }
  }

  /** Hands the agent its unfinished commands of a project, oldest first. */
  private async handOver(held: Held, projectId: string): Promise<void> {
    const open = await this.store.readOpen(projectId, commandOwner(held.connection.agentId));
    const mine = open.filter(
      (e) => e.type === 'command.requested' || e.type === 'command.accepted',
    ) as CommandState[];
    mine.sort((a, b) => compareStreamIds(a.id, b.id));
    const now = Date.now();
    for (const state of mine) {
      const { commandId, agentId } = state.data;
      const late =
        state.type === 'command.requested' &&
        Date.parse((state.data as unknown as CommandRequested).expiresAt) <= now;
      // One past its time is not handed over but ended at the next sweep.
      this.watch(projectId, commandId, agentId, late ? now - this.options.commandTtlMs : now);
      if (late) continue;
      const requested =
        state.type === 'command.requested' ? state : await this.requestOf(projectId, state);
      if (requested) this.deliver(held, projectId, requested, state.type === 'command.accepted');
    }
  }

  /** The `command.requested` event of an accepted command (its args), from history. */
  private async requestOf(projectId: string, state: CommandState): Promise<CommandState | null> {
    const page = await this.store.readLatest({ projectId }, 1000);
    const found = page.events.find(
      (e) =>
        e.type === 'command.requested' &&
        (e.data as { commandId: string }).commandId === state.data.commandId,
    );
    return (found as CommandState | undefined) ?? null;
  }

  private deliver(held: Held, projectId: string, requested: CommandState, accepted: boolean): void {
    const data = requested.data as unknown as CommandRequested;
    held.delivered.set(data.commandId, projectId);
    held.connection.command({
      commandId: data.commandId,
      projectId,
      command: data.command,
      args: data.args,
      requestedBy: data.requestedBy,
      accepted,
    });
  }

  private async listen(projectId: string): Promise<void> {
    let entry = this.listening.get(projectId);
    if (!entry) {
      const live = this.store.subscribe(projectId, 'command.*', (batch) =>
        this.onCommandEvents(projectId, batch.events),
      );
      entry = { live, users: 0 };
      this.listening.set(projectId, entry);
    }
    entry.users++;
    await entry.live;
  }

  private unlisten(projectId: string): void {
    const entry = this.listening.get(projectId);
    if (!entry || --entry.users > 0) return;
    this.listening.delete(projectId);
    entry.live.then((sub) => this.store.unsubscribe(sub)).catch(() => undefined);
  }

  private onCommandEvents(projectId: string, events: readonly EventEnvelope[]): void {
    for (const event of events) {
      const { agentId, commandId } = event.data as { agentId: string; commandId: string };
      if (event.type === 'command.requested') this.watch(projectId, commandId, agentId);
      else if (FINAL_COMMAND_EVENTS.has(event.type)) this.unwatch(projectId, commandId);
      for (const held of this.byAgent.get(agentId) ?? []) {
        const { connection } = held;
        if (!connection.projects.includes(projectId)) continue;
        if (event.type === 'command.requested') {
          this.deliver(held, projectId, event as CommandState, false);
        } else if (event.type === 'command.interrupted') {
          connection.interrupt(projectId, commandId);
        }
      }
    }
  }

  /** Renews this replica's leases, publishes the agents of dead replicas offline, expires old commands. */
  private async tick(): Promise<void> {
    const now = Date.now();
    const until = now + this.options.presenceTimeoutMs;
    try {
      for (const held of this.byConnection.values()) {
        for (const [i, lease] of held.leases.entries()) {
          if (await this.leases.renew(lease.member, until)) continue;
          // Taken as expired (this replica stalled): online again, with a new lease.
          held.leases[i] = await this.online(held.connection, lease.projectId);
        }
      }
      for (const member of await this.leases.takeExpired(now, 100)) await this.expired(member);
      await this.expireCommands(now);
    } catch (error) {
      this.logger.event('warn', 'agent presence sweep failed', { error });
    }
  }

  /**
   * Commands not accepted before their `expiresAt` end `command.expired`,
   * in every project this replica watches (viewers or agents): the
   * condition on the command's version lets exactly one replica do it.
   */
  private async expireCommands(now: number): Promise<void> {
    for (const [key, watched] of this.deadlines) {
      if (watched.at > now) continue;
      this.deadlines.delete(key);
      const { projectId, commandId, agentId } = watched;
      const [state, presence] = await this.store.readEntities(projectId, [
        `command:${commandId}`,
        `presence:${agentId}`,
      ]);
      if (!state) continue;
      const ending = endingOf(state, presence, now, this.options.commandTtlMs);
      if (ending === null) {
        // Accepted, its agent still there (or not gone long): looked at again later.
        if (!FINAL_COMMAND_EVENTS.has(state.type)) this.watch(projectId, commandId, agentId, now);
        continue;
      }
      const event: PublishInput =
        ending === 'expired'
          ? { type: 'command.expired', projectId, data: { commandId, agentId } }
          : {
              type: 'command.failed',
              projectId,
              data: {
                commandId,
                agentId,
                error: 'the agent went offline while running it and did not come back in time',
              },
            };
      await this.publish(projectId, event, [
        { entityKey: `command:${commandId}`, version: state.id },
      ]).catch(() => undefined);
    }
  }

  /** Stops watching a command that ended (else it would be held until its deadline). */
  private unwatch(projectId: string, commandId: string): void {
    this.deadlines.delete(watchKey(projectId, commandId));
  }

  /**
   * Looks at a command again at its deadline. Every replica that knows of a
   * command (it took the request, or its agent's projects' events passed by)
   * watches it, so it ends even if the replica that took it dies; the
   * condition on the command's version lets exactly one of them end it.
   * Bounded by the commands that can wait (per agent, per project).
   */
  private watch(projectId: string, commandId: string, agentId: string, from = Date.now()): void {
    const key = watchKey(projectId, commandId);
    if (this.deadlines.has(key)) return;
    this.deadlines.set(key, {
      projectId,
      commandId,
      agentId,
      at: from + this.options.commandTtlMs,
    });
  }
}

/** A watched command's key in `deadlines`. */
const watchKey = (projectId: string, commandId: string) => `${projectId}/${commandId}`;

/** Past its time: `expired` when still requested; `failed` when accepted by an agent that is offline since before it. */
function endingOf(
  state: EventEnvelope,
  presence: EventEnvelope | null,
  now: number,
  ttlMs: number,
): 'expired' | 'failed' | null {
  if (state.type === 'command.requested') {
    return Date.parse((state.data as CommandRequested).expiresAt) <= now ? 'expired' : null;
  }
  if (state.type !== 'command.accepted') return null;
  const offline =
    presence?.type === 'agent.presence.changed' &&
    (presence.data as { to: string }).to === 'offline';
  return offline && Date.parse(presence.occurredAt) + ttlMs <= now ? 'failed' : null;
}

function requireCommander(principal: Principal, projectId: string): void {
  if (!canAccessProject(principal, projectId)) {
    throw new GatewayError('FORBIDDEN', `no access to project ${projectId}`);
  }
  if (!hasScope(principal, COMMAND_SCOPE)) {
    throw new GatewayError('FORBIDDEN', `this token lacks the ${COMMAND_SCOPE} scope`);
  }
}

function ended(entityKey: string, state: EventEnvelope): GatewayError {
  return conflictWith(entityKey, state, `${entityKey} already ended (${state.type})`);
}
