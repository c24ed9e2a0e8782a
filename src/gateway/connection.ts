import type { GatewaySocket } from './socket-events.js';

/** The parts of Engine.IO's connection we read; its typings leave them out. */
interface EngineConnection {
  writeBuffer?: { data?: unknown }[];
  transport?: { name?: string; socket?: { bufferedAmount?: number; terminate?: () => void } };
  close(discard?: boolean): void;
}

function engineOf(socket: GatewaySocket): EngineConnection {
  return socket.conn as unknown as EngineConnection;
}

/**
 * What this socket's connection holds and has not written to the network:
 * Engine.IO's write buffer (packets waiting for the transport, where they pile
 * up once a WebSocket's kernel buffers are full) plus the WebSocket's own
 * unsent bytes.
 */
export function bufferedBytes(socket: GatewaySocket): number {
  const conn = engineOf(socket);
  let bytes = 0;
  for (const packet of conn.writeBuffer ?? []) {
    const data = packet.data;
    if (typeof data === 'string') bytes += data.length;
    else if (data instanceof Uint8Array) bytes += data.byteLength;
  }
  return bytes + (conn.transport?.socket?.bufferedAmount ?? 0);
}

/**
 * Closes the underlying connection so the client sees `transport close` and
 * reconnects by itself (a server-side `disconnect()` would stop it from
 * reconnecting). `abort` discards what is still buffered and, for a peer that
 * stopped reading, tears the TCP connection down rather than waiting for a
 * WebSocket closing handshake that would keep its buffers alive.
 */
export function closeConnection(socket: GatewaySocket, mode: 'graceful' | 'abort'): void {
  const conn = engineOf(socket);
  const ws = conn.transport?.name === 'websocket' ? conn.transport.socket : undefined;
  conn.close(mode === 'abort');
  if (mode === 'abort' && ws?.terminate) {
    // Give the closing frame (and the message before it) a moment to reach a live peer.
    setTimeout(() => ws.terminate?.(), ABORT_GRACE_MS).unref();
  }
}

/** How long an aborted WebSocket may take to close before it is terminated, ms. */
const ABORT_GRACE_MS = 2000;
