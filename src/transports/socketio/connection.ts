import { closeEngine, webSocketOf, writeBufferBytes } from '../../internals/engine-io.js';
import { terminate, wsBufferedAmount } from '../../internals/ws.js';
import type { GatewaySocket } from './socket-events.js';

/**
 * What this socket's connection holds and has not written to the network:
 * Engine.IO's write buffer (packets waiting for the transport, where they pile
 * up once a WebSocket's kernel buffers are full) plus the WebSocket's own
 * unsent bytes.
 */
export function bufferedBytes(socket: GatewaySocket): number {
  const conn = socket.conn;
  return writeBufferBytes(conn) + wsBufferedAmount(webSocketOf(conn));
}

/**
 * Closes the underlying connection so the client sees `transport close` and
 * reconnects by itself (a server-side `disconnect()` would stop it from
 * reconnecting). `abort` discards what is still buffered and, for a peer that
 * stopped reading, tears the TCP connection down rather than waiting for a
 * WebSocket closing handshake that would keep its buffers alive.
 */
export function closeConnection(socket: GatewaySocket, mode: 'graceful' | 'abort'): void {
  const ws = webSocketOf(socket.conn);
  closeEngine(socket.conn, mode === 'abort');
  if (mode === 'abort' && ws) {
    // Give the closing frame (and the message before it) a moment to reach a live peer.
    setTimeout(() => terminate(ws), ABORT_GRACE_MS).unref();
  }
}

/** How long an aborted WebSocket may take to close before it is terminated, ms. */
const ABORT_GRACE_MS = 2000;
