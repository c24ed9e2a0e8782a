import { Body, Controller, HttpCode, Inject, Post, Req, UseGuards } from '@nestjs/common';
import { hasScope } from '../../delivery/auth/principal.js';
import { HttpAuthGuard, type AuthedRequest } from './http-auth.guard.js';
import { RevocationService } from '../../delivery/sessions/revocation.service.js';
import { GatewayError } from '../../core/errors.js';
import { LOGGER, type JsonLogger } from '../../core/support/json-logger.js';
import { validateDto } from '../../core/support/validate-dto.js';
import { RevocationDto } from './revocation.dto.js';

/** Administration over HTTP: bearer token with scope `admin`. */
@Controller('api/admin')
@UseGuards(HttpAuthGuard)
export class AdminController {
  constructor(
    @Inject(RevocationService) private readonly revocations: RevocationService,
    @Inject(LOGGER) private readonly logger: JsonLogger,
  ) {}

  /**
   * Revokes a user (no `projectId`: every socket and stream of theirs closes)
   * or a user's access to one project (that project's streams stop), on every
   * replica within a second; tokens issued before now are refused for it.
   */
  @Post('revocations')
  @HttpCode(202)
  async revoke(
    @Req() req: AuthedRequest,
    @Body() body: unknown,
  ): Promise<{ userId: string; projectId: string | null; revokedAt: string }> {
    if (!hasScope(req.principal, 'admin')) {
      throw new GatewayError('FORBIDDEN', 'this token lacks the admin scope');
    }
    const dto = validateDto(RevocationDto, body, 'body');
    const revocation = dto.projectId
      ? await this.revocations.revokeProject(dto.userId, dto.projectId)
      : await this.revocations.revokeUser(dto.userId);
    this.logger.event('info', 'revoked', {
      by: req.principal.sub,
      userId: revocation.userId,
      projectId: revocation.projectId,
    });
    return {
      userId: revocation.userId,
      projectId: revocation.projectId,
      revokedAt: new Date(revocation.at).toISOString(),
    };
  }
}
