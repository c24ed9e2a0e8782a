import { Matches } from 'class-validator';
import { ID_PATTERN } from '../../core/ids.js';

export class SseTicketDto {
  @Matches(ID_PATTERN, { message: 'projectId must match ^[A-Za-z0-9_-]{1,64}$' })
  projectId: string;
}
