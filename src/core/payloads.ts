import {
  ArrayMaxSize,
  IsISO8601,
  IsObject,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsNumber,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateIf,
  ValidationArguments,
  registerDecorator,
} from 'class-validator';
import { ID_PATTERN } from './ids.js';

/** One payload class per event type, exactly the fields of the design doc's table. */

/** Dependencies one subtask may have. */
export const MAX_SUBTASK_DEPENDENCIES = 50;

export const AGENT_STATUSES = ['idle', 'busy', 'offline', 'error'] as const;
export type AgentStatus = (typeof AGENT_STATUSES)[number];
export const AGENT_TYPES = ['planner', 'worker'] as const;
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export const TASK_STATUSES = ['planning', 'planning_failed', 'active', 'done'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];
export const SUBTASK_STATUSES = [
  'blocked',
  'ready',
  'in_progress',
  'completed',
  'failed',
  'merged',
] as const;
export type SubtaskStatus = (typeof SUBTASK_STATUSES)[number];

/** Host names end up in entity keys: keep them printable and short. */
export const HOST_PATTERN = /^[A-Za-z0-9_.:-]{1,255}$/;
export const MAX_LOG_LINE_BYTES = 8 * 1024;

export const IsId = (options: { each?: boolean } = {}) =>
  Matches(ID_PATTERN, { message: '$property must match ^[A-Za-z0-9_-]{1,64}$', ...options });

/** Byte length, not character count: a log line's limit is about wire size. */
export function MaxBytes(limit: number) {
  return (target: object, propertyName: string) =>
    registerDecorator({
      name: 'maxBytes',
      target: target.constructor,
      propertyName,
      constraints: [limit],
      validator: {
        validate: (value: unknown) =>
          typeof value === 'string' && Buffer.byteLength(value, 'utf8') <= limit,
        defaultMessage: (args: ValidationArguments) =>
          `${args.property} must be at most ${limit} bytes of UTF-8`,
      },
    });
}

export class AgentStatusChanged {
  @IsId() agentId: string;
  @IsIn(AGENT_STATUSES) status: AgentStatus;
  @IsOptional() @IsIn(AGENT_STATUSES) previousStatus?: AgentStatus;
}

export class AgentRunStarted {
  @IsId() runId: string;
  @IsId() agentId: string;
  @IsIn(AGENT_TYPES) agentType: (typeof AGENT_TYPES)[number];
  @IsId() taskId: string;
  @IsOptional() @IsId() subtaskId?: string;
}

export class AgentRunLog {
  @IsId() runId: string;
  @IsString() @MaxBytes(MAX_LOG_LINE_BYTES) line: string;
  @IsInt() @Min(1) lineNumber: number;
  @IsOptional() @IsIn(LOG_LEVELS) level?: (typeof LOG_LEVELS)[number];
}

export class AgentRunCompleted {
  @IsId() runId: string;
  @IsId() agentId: string;
  @IsInt() @Min(0) durationMs: number;
  @IsOptional() @IsString() @MaxLength(2048) prUrl?: string;
}

export class AgentRunFailed {
  @IsId() runId: string;
  @IsId() agentId: string;
  @IsString() @MaxLength(4096) error: string;
  @IsBoolean() willRetry: boolean;
}

export class TaskStatusChanged {
  @IsId() taskId: string;
  // `from` must be present: null for a new task, else a status.
  @ValidateIf((o: TaskStatusChanged) => o.from !== null)
  @IsIn(TASK_STATUSES)
  from: TaskStatus | null;
  @IsIn(TASK_STATUSES) to: TaskStatus;
}

export class SubtaskStatusChanged {
  @IsId() subtaskId: string;
  @IsId() taskId: string;
  @ValidateIf((o: SubtaskStatusChanged) => o.from !== null)
  @IsIn(SUBTASK_STATUSES)
  from: SubtaskStatus | null;
  @IsIn(SUBTASK_STATUSES) to: SubtaskStatus;
  /**
   * The subtasks it waits for, on the event that makes it `blocked`
   * (optional, beyond the design's table): carried by the event so that
   * any replica can tell, from the snapshot alone, when it is ready.
   */
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(MAX_SUBTASK_DEPENDENCIES)
  @IsId({ each: true })
  dependsOn?: string[];
}

export class SubtaskUnblocked {
  @IsId() subtaskId: string;
  @IsId() taskId: string;
  @IsId() unblockedBy: string;
}

export class SystemResourceSampled {
  @IsString() @Matches(HOST_PATTERN) host: string;
  @IsNumber({ allowNaN: false, allowInfinity: false }) @Min(0) @Max(100) cpuPercent: number;
  @IsNumber({ allowNaN: false, allowInfinity: false }) @Min(0) @Max(100) memoryPercent: number;
  @IsOptional() @IsInt() @Min(0) queueDepth?: number;
}

export const PRESENCE_STATES = ['online', 'offline'] as const;
/** Longest free text of a command result or failure. */
export const MAX_COMMAND_TEXT = 4000;

/** An agent connected to (online) or gone from (offline) the gateway, and where. */
export class AgentPresenceChanged {
  @IsId() agentId: string;
  @IsIn(PRESENCE_STATES) to: (typeof PRESENCE_STATES)[number];
  /** The replica the agent is (or was) connected to. */
  @IsString() @MaxLength(128) replica: string;
}

/** A command for an agent, as a dashboard asked for it. `args` are the command type's payload. */
export class CommandRequested {
  @IsId() commandId: string;
  @IsId() agentId: string;
  @IsString() @Matches(/^[a-z]+(?:\.[a-z]+)+$/) @MaxLength(64) command: string;
  @IsObject() args: Record<string, unknown>;
  /** The `sub` of the dashboard's token. */
  @IsString() @MaxLength(256) requestedBy: string;
  /** When it expires if no agent has accepted it (ISO 8601). */
  @IsISO8601() expiresAt: string;
}

export class CommandAccepted {
  @IsId() commandId: string;
  @IsId() agentId: string;
}

export class CommandCompleted {
  @IsId() commandId: string;
  @IsId() agentId: string;
  @IsOptional() @IsString() @MaxLength(MAX_COMMAND_TEXT) result?: string;
}

export class CommandFailed {
  @IsId() commandId: string;
  @IsId() agentId: string;
  @IsString() @MaxLength(MAX_COMMAND_TEXT) error: string;
}

export class CommandInterrupted {
  @IsId() commandId: string;
  @IsId() agentId: string;
  @IsString() @MaxLength(256) requestedBy: string;
}

export class CommandExpired {
  @IsId() commandId: string;
  @IsId() agentId: string;
}
