import { Inject, Injectable } from '@nestjs/common';
import type { Principal } from './principal.js';
import { RevocationService } from './revocation/revocation.service.js';
import { TokenVerifier } from './token-verifier.js';

/** Token in, principal out: signature and claims, then revocations. The one way in for sockets, SSE and HTTP. */
@Injectable()
export class Authenticator {
  constructor(
    @Inject(TokenVerifier) private readonly verifier: TokenVerifier,
    @Inject(RevocationService) private readonly revocations: RevocationService,
  ) {}

  async authenticate(token: unknown): Promise<Principal> {
    return this.revocations.admit(await this.verifier.verify(token));
  }
}
