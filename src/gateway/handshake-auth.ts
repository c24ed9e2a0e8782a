import type { ExtendedError } from 'socket.io';
import type { Authenticator } from '../auth/authenticator.js';
import { GatewayError } from '../common/errors.js';
import type { ConnectionLeases } from '../limits/connection-leases.service.js';
import type { GatewaySocket } from './socket-events.js';

/** A `connect_error` whose `message` is the code and whose `data` is `{ code, message }`. */
export function connectError(error: GatewayError): ExtendedError {
  const err = new Error(error.code) as ExtendedError;
  err.data = { code: error.code, message: error.message };
  return err;
}

/**
 * Socket.IO middleware: runs once per connection at the handshake, before any
 * message (Nest guards never see connections). The token must verify and not
 * be revoked (UNAUTHORIZED), and the user must have a free connection slot
 * across the cluster (TOO_MANY_CONNECTIONS).
 */
export function handshakeAuth(auth: Authenticator, leases: ConnectionLeases) {
  return (socket: GatewaySocket, next: (err?: ExtendedError) => void): void => {
    const handshake = socket.handshake.auth as Record<string, unknown> | undefined;
    auth
      .authenticate(handshake?.token)
      .then(async (principal) => {
        socket.data.leaseId = await leases.take(principal.sub);
        socket.data.principal = principal;
        next();
      })
      .catch((err: unknown) => {
        next(
          connectError(
            err instanceof GatewayError
              ? err
              : new GatewayError('UNAUTHORIZED', 'authentication failed'),
          ),
        );
      });
  };
}
