import type { ExtendedError } from 'socket.io';
import { GatewayError } from '../common/errors.js';
import type { TokenVerifier } from '../auth/token-verifier.js';
import type { GatewaySocket } from './socket-events.js';

/** A `connect_error` whose `message` is the code and whose `data` is `{ code, message }`. */
export function connectError(error: GatewayError): ExtendedError {
  const err = new Error(error.code) as ExtendedError;
  err.data = { code: error.code, message: error.message };
  return err;
}

/**
 * Socket.IO middleware: runs once per connection at the handshake, before any
 * message (Nest guards never see connections). Refuses with UNAUTHORIZED.
 */
export function handshakeAuth(verifier: TokenVerifier) {
  return (socket: GatewaySocket, next: (err?: ExtendedError) => void): void => {
    try {
      const auth = socket.handshake.auth as Record<string, unknown> | undefined;
      socket.data.principal = verifier.verify(auth?.token);
      next();
    } catch (err) {
      next(
        connectError(
          err instanceof GatewayError
            ? err
            : new GatewayError('UNAUTHORIZED', 'authentication failed'),
        ),
      );
    }
  };
}
