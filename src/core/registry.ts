import { commandOwner } from './commands.js';
import {
  AgentPresenceChanged,
  CommandAccepted,
  CommandCompleted,
  CommandExpired,
  CommandFailed,
  CommandInterrupted,
  CommandRequested,
  AgentRunCompleted,
  AgentRunFailed,
  AgentRunLog,
  AgentRunStarted,
  AgentStatusChanged,
  SubtaskStatusChanged,
  SubtaskUnblocked,
  SystemResourceSampled,
  TaskStatusChanged,
} from './payloads.js';

/** The typed map of event types to payloads: the compile-time half of the contract. */
export interface EventPayloads {
  'agent.status.changed': AgentStatusChanged;
  'agent.run.started': AgentRunStarted;
  'agent.run.log': AgentRunLog;
  'agent.run.completed': AgentRunCompleted;
  'agent.run.failed': AgentRunFailed;
  'task.status.changed': TaskStatusChanged;
  'subtask.status.changed': SubtaskStatusChanged;
  'subtask.unblocked': SubtaskUnblocked;
  'system.resource.sampled': SystemResourceSampled;
  'agent.presence.changed': AgentPresenceChanged;
  'command.requested': CommandRequested;
  'command.accepted': CommandAccepted;
  'command.completed': CommandCompleted;
  'command.failed': CommandFailed;
  'command.interrupted': CommandInterrupted;
  'command.expired': CommandExpired;
}
export type EventType = keyof EventPayloads;

interface RegistryEntry<T extends EventType> {
  /** The class-validator class `data` must satisfy. */
  payload: new () => EventPayloads[T];
  /** Snapshot key of the entity this event is the latest state of; null: not part of it. */
  entityKey: (data: EventPayloads[T]) => string | null;
  /** True when the entity has ended (finished run, done task): it ages out of the snapshot. */
  ends: (data: EventPayloads[T]) => boolean;
  /**
   * The owner of the entity (an agent, for its commands): the store indexes
   * each owner's open (not ended) entities, so "the agent's unfinished
   * commands" is one small read, not a scan of the snapshot.
   */
  owner?: (data: EventPayloads[T]) => string;
  /** True for log lines, which live in per-run streams rather than the project's. */
  isLog?: true;
  /**
   * True when only the latest event of the entity matters to a viewer (a status,
   * a sample): a slow viewer's queue keeps the latest per entity key.
   */
  coalesce?: true;
}

type Registry = { [T in EventType]: RegistryEntry<T> };

const never = () => false;

/** A command's final events: after one of them nothing more happens to it. */
export const FINAL_COMMAND_EVENTS: ReadonlySet<string> = new Set([
  'command.completed',
  'command.failed',
  'command.interrupted',
  'command.expired',
]);

/** A command's events: one entity per command, owned by its agent (the store indexes the open ones). */
type CommandEventType = {
  [K in EventType]: EventPayloads[K] extends { commandId: string; agentId: string } ? K : never;
}[EventType];

function commandEntry<T extends CommandEventType>(
  type: T,
  payload: new () => EventPayloads[T],
): RegistryEntry<T> {
  const final = FINAL_COMMAND_EVENTS.has(type);
  return {
    payload,
    entityKey: (d) => `command:${d.commandId}`,
    owner: (d) => commandOwner(d.agentId),
    ends: () => final,
  };
}

/** The runtime half of the contract: one entry per type, checked against the map above. */
export const EVENT_REGISTRY: Registry = {
  'agent.status.changed': {
    payload: AgentStatusChanged,
    entityKey: (d) => `agent:${d.agentId}`,
    ends: never,
    coalesce: true,
  },
  'agent.run.started': {
    payload: AgentRunStarted,
    entityKey: (d) => `run:${d.runId}`,
    ends: never,
  },
  'agent.run.log': {
    payload: AgentRunLog,
    entityKey: () => null,
    ends: never,
    isLog: true,
  },
  'agent.run.completed': {
    payload: AgentRunCompleted,
    entityKey: (d) => `run:${d.runId}`,
    ends: () => true,
  },
  'agent.run.failed': {
    payload: AgentRunFailed,
    entityKey: (d) => `run:${d.runId}`,
    ends: () => true,
  },
  'task.status.changed': {
    payload: TaskStatusChanged,
    entityKey: (d) => `task:${d.taskId}`,
    ends: (d) => d.to === 'done',
    coalesce: true,
  },
  'subtask.status.changed': {
    payload: SubtaskStatusChanged,
    entityKey: (d) => `subtask:${d.subtaskId}`,
    ends: (d) => d.to === 'merged',
    coalesce: true,
  },
  'subtask.unblocked': {
    payload: SubtaskUnblocked,
    entityKey: () => null,
    ends: never,
  },
  'system.resource.sampled': {
    payload: SystemResourceSampled,
    entityKey: (d) => `host:${d.host}`,
    ends: never,
    coalesce: true,
  },
  'agent.presence.changed': {
    payload: AgentPresenceChanged,
    entityKey: (d) => `presence:${d.agentId}`,
    ends: never,
    coalesce: true,
  },
  // A command is one entity through its steps: its latest event is its state.
  'command.requested': commandEntry('command.requested', CommandRequested),
  'command.accepted': commandEntry('command.accepted', CommandAccepted),
  'command.completed': commandEntry('command.completed', CommandCompleted),
  'command.failed': commandEntry('command.failed', CommandFailed),
  'command.interrupted': commandEntry('command.interrupted', CommandInterrupted),
  'command.expired': commandEntry('command.expired', CommandExpired),
};

export const EVENT_TYPES = Object.keys(EVENT_REGISTRY) as EventType[];

export function isEventType(value: unknown): value is EventType {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(EVENT_REGISTRY, value);
}

export function registryEntry<T extends EventType>(type: T): RegistryEntry<T> {
  return EVENT_REGISTRY[type];
}

/** The key a slow viewer's queue merges this event by, or null when it must be kept. */
export function coalesceKey(event: { type: string; data: unknown }): string | null {
  if (!isEventType(event.type)) return null;
  const entry = EVENT_REGISTRY[event.type] as RegistryEntry<EventType>;
  if (!entry.coalesce) return null;
  return entry.entityKey(event.data as never);
}

/** The type of run log lines: they live in their run's own stream, not the project's. */
export const LOG_EVENT_TYPE = 'agent.run.log' satisfies EventType;
