import type { Server } from 'socket.io';

/**
 * Engine.IO's private parts the gateway relies on, all of them, each checked
 * by name in test/e2e/library-internals.spec.ts so an upgrade that moves one
 * fails there and says which (engine.io is pinned in package.json).
 */

/** The parts of an Engine.IO connection we read; its typings leave them out. */
interface EngineConnection {
  writeBuffer?: { data?: unknown }[];
  transport?: { name?: string; socket?: unknown };
  request?: unknown;
  close(discard?: boolean): void;
  write(packet: string, options: PreEncodedWrite): void;
}

const engine = (conn: object): EngineConnection => conn as EngineConnection;

/** Open sessions by sid (`Server#clients`: public at run time, `protected` in its typings). */
export function engineSessions(server: Server): Record<string, unknown> {
  return (server.engine as unknown as { clients: Record<string, unknown> }).clients;
}

/** Bytes of the packets waiting in the connection's write buffer (`Socket#writeBuffer`). */
export function writeBufferBytes(conn: object): number {
  let bytes = 0;
  for (const packet of engine(conn).writeBuffer ?? []) {
    const data = packet.data;
    if (typeof data === 'string') bytes += data.length;
    else if (data instanceof Uint8Array) bytes += data.byteLength;
  }
  return bytes;
}

/** The transport's underlying WebSocket (ws), when the connection is on WebSocket. */
export function webSocketOf(conn: object): unknown {
  const transport = engine(conn).transport;
  return transport?.name === 'websocket' ? transport.socket : undefined;
}

/** The send options that carry a pre-encoded WebSocket frame (one object, shared by every socket). */
export interface PreEncodedWrite {
  wsPreEncodedFrame: [Buffer];
}

/**
 * Writes a packet with its WebSocket frame already made (`wsPreEncodedFrame`,
 * the option Socket.IO's own broadcasts use): ws writes the frame as is; other
 * transports send the packet.
 */
export function writePreEncoded(conn: object, packet: string, write: PreEncodedWrite): void {
  engine(conn).write(packet, write);
}

/** Closes the connection; `discard` drops what is still buffered. */
export function closeEngine(conn: object, discard: boolean): void {
  engine(conn).close(discard);
}

/**
 * Lets go of the upgrade request (`Socket#request`): engine.io would hold it,
 * its raw headers and streams for the life of the connection, and nothing
 * reads it after the handshake (Socket.IO's memory-usage guide does this).
 */
export function releaseUpgradeRequest(conn: object): void {
  engine(conn).request = null;
}
