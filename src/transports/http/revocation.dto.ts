import { IsOptional, IsString, Matches, MaxLength, MinLength } from 'class-validator';
import { ID_PATTERN } from '../../core/ids.js';

export class RevocationDto {
  /** The user's `sub`: any printable string a token can carry (up to 256 characters). */
  @IsString()
  @MinLength(1)
  @MaxLength(256)
  // eslint-disable-next-line no-control-regex -- refusing control characters is the point
  @Matches(/^[^\u0000-\u001f\u007f]+$/, { message: 'userId must not contain control characters' })
  userId: string;

  @IsOptional()
  @Matches(ID_PATTERN, { message: 'projectId must match ^[A-Za-z0-9_-]{1,64}$' })
  projectId?: string;
}
