import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsOptional,
  IsString,
  MaxLength,
} from 'class-validator';
import {
  AGENT_TYPES,
  IsId,
  LOG_LEVELS,
  MAX_LOG_LINE_BYTES,
  MaxBytes,
  SUBTASK_STATUSES,
  TASK_STATUSES,
  type SubtaskStatus,
  type TaskStatus,
} from '../../core/payloads.js';

/**
 * Request bodies of the domain's REST endpoints. Field rules come from the
 * event payloads (`IsId`, `MaxBytes`...), so a body that passes here never
 * fails again at the bus under another name. A resource sample's body is the
 * `SystemResourceSampled` payload itself.
 */

export class CreateTaskDto {
  @IsOptional() @IsId() taskId?: string;
}
export class MoveTaskDto {
  @IsIn(TASK_STATUSES) to: TaskStatus;
}
export class CreateSubtaskDto {
  @IsId() subtaskId: string;
  @IsOptional() @IsArray() @ArrayMaxSize(50) @IsId({ each: true }) dependsOn?: string[];
}
export class MoveSubtaskDto {
  @IsIn(SUBTASK_STATUSES) to: SubtaskStatus;
}
export class StartRunDto {
  @IsOptional() @IsId() runId?: string;
  @IsIn(AGENT_TYPES) agentType: (typeof AGENT_TYPES)[number];
  @IsId() taskId: string;
  @IsOptional() @IsId() subtaskId?: string;
}
export class LogLineDto {
  @IsString() @MaxBytes(MAX_LOG_LINE_BYTES) line: string;
  @IsOptional() @IsIn(LOG_LEVELS) level?: (typeof LOG_LEVELS)[number];
}
export class CompleteRunDto {
  @IsOptional() @IsString() @MaxLength(2048) prUrl?: string;
}
export class FailRunDto {
  @IsString() @MaxLength(4096) error: string;
  @IsBoolean() willRetry: boolean;
}
