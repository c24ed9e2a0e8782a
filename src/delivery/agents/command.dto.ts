import { IsObject, IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import { ID_PATTERN } from '../../core/ids.js';
import { MAX_COMMAND_TEXT } from '../../core/payloads.js';
import type {
  CommandCompletedReport,
  CommandFailedReport,
  CommandInterruptRequest,
  CommandReport,
  CommandRequest,
} from '../../protocol/socket-events.js';

const ID = { message: '$property must match ^[A-Za-z0-9_-]{1,64}$' };

export class CommandRequestDto implements CommandRequest {
  @Matches(ID_PATTERN, ID) projectId: string;
  @Matches(ID_PATTERN, ID) agentId: string;
  @IsString() @MaxLength(64) command: string;
  @IsObject() args: Record<string, unknown>;
  @IsOptional() @Matches(ID_PATTERN, ID) commandId?: string;
}

export class CommandInterruptDto implements CommandInterruptRequest {
  @Matches(ID_PATTERN, ID) projectId: string;
  @Matches(ID_PATTERN, ID) commandId: string;
}

export class CommandReportDto implements CommandReport {
  @Matches(ID_PATTERN, ID) commandId: string;
  @IsOptional() @Matches(ID_PATTERN, ID) projectId?: string;
}

export class CommandCompletedDto extends CommandReportDto implements CommandCompletedReport {
  @IsOptional() @IsString() @MaxLength(MAX_COMMAND_TEXT) result?: string;
}

export class CommandFailedDto extends CommandReportDto implements CommandFailedReport {
  @IsString() @MaxLength(MAX_COMMAND_TEXT) error: string;
}
