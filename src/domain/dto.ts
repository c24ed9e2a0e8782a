import {
  ArrayMaxSize,
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
} from 'class-validator';
import { ID_PATTERN } from '../common/ids.js';
import {
  AGENT_TYPES,
  LOG_LEVELS,
  SUBTASK_STATUSES,
  TASK_STATUSES,
  type SubtaskStatus,
  type TaskStatus,
} from '../events/payloads.js';

/** Request bodies of the domain's REST endpoints. */

export class CreateTaskDto {
  @IsOptional() @Matches(ID_PATTERN) taskId?: string;
}
export class MoveTaskDto {
  @IsIn(TASK_STATUSES) to: TaskStatus;
}
export class CreateSubtaskDto {
  @Matches(ID_PATTERN) subtaskId: string;
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(50)
  @Matches(ID_PATTERN, { each: true })
  dependsOn?: string[];
}
export class MoveSubtaskDto {
  @IsIn(SUBTASK_STATUSES) to: SubtaskStatus;
}
export class StartRunDto {
  @IsOptional() @Matches(ID_PATTERN) runId?: string;
  @IsIn(AGENT_TYPES) agentType: (typeof AGENT_TYPES)[number];
  @Matches(ID_PATTERN) taskId: string;
  @IsOptional() @Matches(ID_PATTERN) subtaskId?: string;
}
export class LogLineDto {
  @IsString() @MaxLength(8192) line: string;
  @IsOptional() @IsIn(LOG_LEVELS) level?: (typeof LOG_LEVELS)[number];
}
export class CompleteRunDto {
  @IsOptional() @IsString() @MaxLength(2048) prUrl?: string;
}
export class FailRunDto {
  @IsString() @MaxLength(4096) error: string;
  @IsBoolean() willRetry: boolean;
}
export class ResourceSampleDto {
  @Matches(/^[A-Za-z0-9_.:-]{1,255}$/) host: string;
  @IsNumber() @Min(0) @Max(100) cpuPercent: number;
  @IsNumber() @Min(0) @Max(100) memoryPercent: number;
  @IsOptional() @IsInt() @Min(0) queueDepth?: number;
}
