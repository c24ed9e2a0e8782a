import type { Principal } from './principal.js';
import { RevocationService } from '../sessions/revocation.service.js';
import { TokenVerifier } from './token-verifier.js';

/** Token in, principal out: signature and claims, then revocations. The one way in for sockets, SSE and HTTP. */
export class Authenticator {
  constructor(
    private readonly verifier: TokenVerifier,
    private readonly revocations: RevocationService,
  ) {}

  async authenticate(token: unknown): Promise<Principal> {
    return this.revocations.admit(await this.verifier.verify(token));
  }
}
