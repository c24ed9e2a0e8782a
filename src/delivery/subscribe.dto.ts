import {
  ArrayMaxSize,
  IsArray,
  IsOptional,
  IsString,
  MaxLength,
  Matches,
  Validate,
  type ValidatorConstraintInterface,
  ValidatorConstraint,
} from 'class-validator';
import type {
  LogsSubscribeRequest,
  LogsUnsubscribeRequest,
  RefreshRequest,
  SubscribeRequest,
  UnsubscribeRequest,
} from '../protocol/socket-events.js';
import { ID_PATTERN, STREAM_ID_PATTERN } from '../core/ids.js';
import { isValidPattern } from '../core/pattern.js';

/** A run id, or `*` (every run). */
const RUN_OR_ALL = /^(?:\*|[A-Za-z0-9_-]{1,64})$/;

@ValidatorConstraint({ name: 'eventPattern' })
class EventPatternRule implements ValidatorConstraintInterface {
  validate(value: unknown): boolean {
    return Array.isArray(value) && value.every(isValidPattern);
  }
  defaultMessage(): string {
    return 'types must be event patterns such as "agent.*" or "task.status.changed"';
  }
}

export class SubscribeDto implements SubscribeRequest {
  @Matches(ID_PATTERN, { message: 'projectId must match ^[A-Za-z0-9_-]{1,64}$' })
  projectId: string;

  @IsOptional()
  @Matches(STREAM_ID_PATTERN, { message: 'since must be a stream id like 1732185600000-0' })
  since?: string;

  @IsOptional()
  @IsArray()
  @ArrayMaxSize(32)
  @Validate(EventPatternRule)
  types?: string[];
}

export class UnsubscribeDto implements UnsubscribeRequest {
  @Matches(ID_PATTERN, { message: 'projectId must match ^[A-Za-z0-9_-]{1,64}$' })
  projectId: string;
}

export class LogsSubscribeDto implements LogsSubscribeRequest {
  @Matches(ID_PATTERN, { message: 'projectId must match ^[A-Za-z0-9_-]{1,64}$' })
  projectId: string;

  /** One run, or `*` for every run of the project. */
  @Matches(RUN_OR_ALL, { message: 'runId must be * or match ^[A-Za-z0-9_-]{1,64}$' })
  runId: string;

  /** An id of the run's own log stream (one run only). */
  @IsOptional()
  @Matches(STREAM_ID_PATTERN, { message: 'since must be a stream id like 1732185600000-0' })
  since?: string;
}

export class LogsUnsubscribeDto implements LogsUnsubscribeRequest {
  @Matches(ID_PATTERN, { message: 'projectId must match ^[A-Za-z0-9_-]{1,64}$' })
  projectId: string;

  @Matches(RUN_OR_ALL, { message: 'runId must be * or match ^[A-Za-z0-9_-]{1,64}$' })
  runId: string;
}

export class AuthRefreshDto implements RefreshRequest {
  @IsString()
  @MaxLength(8192)
  token: string;
}
