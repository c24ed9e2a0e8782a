import type { ExtendedError } from 'socket.io';
import type { Authenticator } from '../../delivery/auth/authenticator.js';
import { GatewayError } from '../../core/errors.js';
import type { ConnectionLeases } from '../../delivery/sessions/connection-leases.service.js';
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
 * across the cluster (TOO_MANY_CONNECTIONS), held until the connection closes.
 */
export function handshakeAuth(auth: Authenticator, leases: ConnectionLeases) {
  return (socket: GatewaySocket, next: (err?: ExtendedError) => void): void => {
    const handshake = socket.handshake.auth as Record<string, unknown> | undefined;
    auth
      .authenticate(handshake?.token)
      .then(async (principal) => {
        const leaseId = await leases.take(principal.sub);
        // The slot lives exactly as long as the connection. A client that
        // vanished while this ran never becomes a connected socket (Socket.IO
        // drops it without a disconnect), so the slot is given back here.
        if (socket.conn.readyState !== 'open') {
          leases.release(leaseId);
          throw new GatewayError('UNAVAILABLE', 'connection closed during the handshake');
        }
        socket.conn.once('close', () => leases.release(leaseId));
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
