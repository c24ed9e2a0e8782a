import type { EventEnvelope } from '../core/envelope.js';
import type { ActiveRun } from '../core/active-runs.js';
import type { ErrorBody } from '../core/errors.js';

export type { ActiveRun };

/**
 * The Socket.IO protocol as types (docs/protocol.md), one definition for the
 * server and the client library: what each side emits, with its payload and
 * acknowledgement. The server receives every client payload as `unknown` and
 * validates it (see `Inbound`); these are the shapes it accepts.
 */

export type Snapshot = Record<string, EventEnvelope>;

export type Failure = { ok: false; error: ErrorBody };
/** What an acknowledgement carries: the success payload, or a coded failure. */
export type Reply<T> = ({ ok: true } & T) | Failure;
export type Ack<T> = (reply: Reply<T>) => void;

export interface SubscribeRequest {
  projectId: string;
  /** Resume after this id (the last one received); absent: snapshot first. */
  since?: string;
  /** Event type patterns (`agent.*`); all types when absent. */
  types?: string[];
}

export interface UnsubscribeRequest {
  projectId: string;
}

/** `runId` of `logs:subscribe` / `logs:unsubscribe` that means every run of the project. */
export const ALL_RUNS = '*';

export interface LogsSubscribeRequest {
  projectId: string;
  /** One run, or `*`: every run in progress and every run that starts later. */
  runId: string;
  /** An id of the run's own log stream. */
  since?: string;
}

export interface LogsUnsubscribeRequest {
  projectId: string;
  /** One run, or `*`: stop following every run (and the runs following took). */
  runId: string;
}

export interface RefreshRequest {
  token: string;
}

export interface SubscribeOk {
  projectId: string;
  position: string;
  replayed: number;
  snapshot?: Snapshot;
  /** With the snapshot (a subscribe without `since`): the runs in progress in it. */
  activeRuns?: ActiveRun[];
  resync?: true;
}

export interface LogsSubscribeOk {
  /** Id in the run's own log stream; lines after it follow (`0-0` when following every run). */
  position: string;
  replayed: number;
  resync?: true;
  /** Following every run (`runId: "*"`): the runs in progress, now followed. */
  runs?: string[];
}

/** `command:request`, from a dashboard whose token has `agents:command` for the project. */
export interface CommandRequest {
  projectId: string;
  agentId: string;
  /** A registered command type: `agent.instruct`, `run.interrupt`, `task.retry`. */
  command: string;
  /** The command type's payload. */
  args: Record<string, unknown>;
  /** Give one to make a retried request count once; else the gateway makes one. */
  commandId?: string;
}

export interface CommandInterruptRequest {
  projectId: string;
  commandId: string;
}

/** An agent's report on a command it was given (`projectId` optional: the gateway knows it). */
export interface CommandReport {
  commandId: string;
  projectId?: string;
}
export interface CommandCompletedReport extends CommandReport {
  result?: string;
}
export interface CommandFailedReport extends CommandReport {
  error: string;
}

/** What an agent receives for each command: at least once, the same `commandId` each time. */
export interface CommandDelivery {
  commandId: string;
  projectId: string;
  command: string;
  args: Record<string, unknown>;
  requestedBy: string;
  /** Already accepted by this agent before (a redelivery after a reconnect). */
  accepted: boolean;
}

export interface ClientToServerEvents {
  'command:request': (payload: CommandRequest, ack: Ack<{ commandId: string }>) => void;
  'command:interrupt': (payload: CommandInterruptRequest, ack: Ack<Record<string, never>>) => void;
  'command:accepted': (payload: CommandReport, ack: Ack<Record<string, never>>) => void;
  'command:completed': (payload: CommandCompletedReport, ack: Ack<Record<string, never>>) => void;
  'command:failed': (payload: CommandFailedReport, ack: Ack<Record<string, never>>) => void;
  subscribe: (payload: SubscribeRequest, ack: Ack<SubscribeOk>) => void;
  unsubscribe: (payload: UnsubscribeRequest, ack: Ack<Record<string, never>>) => void;
  'logs:subscribe': (payload: LogsSubscribeRequest, ack: Ack<LogsSubscribeOk>) => void;
  'logs:unsubscribe': (payload: LogsUnsubscribeRequest, ack: Ack<Record<string, never>>) => void;
  'auth:refresh': (payload: RefreshRequest, ack: Ack<{ expiresAt: string }>) => void;
}

export interface ResyncPayload {
  projectId: string;
  position: string;
  snapshot: Snapshot;
}

export interface LaggedPayload {
  projectId: string;
  /** Set when the dropped subscription was a run's log stream (then the id is the run's). */
  runId?: string;
  lastDeliveredId: string;
}

export interface ServerToClientEvents {
  command: (payload: CommandDelivery) => void;
  'command:interrupt': (payload: { commandId: string; projectId: string }) => void;
  events: (events: EventEnvelope[]) => void;
  'subscription:resync': (payload: ResyncPayload) => void;
  'subscription:lagged': (payload: LaggedPayload) => void;
  'server:draining': (payload: { reconnectInMs: number }) => void;
  'auth:expiring': (payload: { expiresAt: string }) => void;
  'access:revoked': (payload: { projectId: string }) => void;
}

/** The client's events as the server receives them: payloads not yet validated. */
export type Inbound<Events> = {
  [K in keyof Events]: Events[K] extends (payload: never, ack: infer A) => void
    ? (payload: unknown, ack: A) => void
    : never;
};
