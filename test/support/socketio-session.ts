import WebSocket from 'ws';
import { SocketIoSession, socketUrl } from '../../load/lib/socketio.js';

export interface OpenSession {
  ws: WebSocket;
  session: SocketIoSession;
  /** Resolves once the Socket.IO connect is answered: connected, or refused with the error. */
  outcome: Promise<{ connected: boolean; error?: unknown }>;
}

/**
 * A Socket.IO session spoken by the k6 scripts' framing module
 * (load/lib/socketio.js) over a real `ws` WebSocket: what a lean load client
 * does, for tests of the framing and of what arrives on the wire.
 */
export function openSession(
  baseUrl: string,
  auth: unknown,
  options: WebSocket.ClientOptions = {},
): OpenSession {
  const ws = new WebSocket(socketUrl(baseUrl), options);
  const session = new SocketIoSession((frame) => ws.send(frame), auth);
  ws.on('message', (data: Buffer) => session.receive(data.toString()));
  const outcome = new Promise<{ connected: boolean; error?: unknown }>((resolve) => {
    session.on('connect', () => resolve({ connected: true }));
    session.on('connect_error', (error) => resolve({ connected: false, error }));
  });
  return { ws, session, outcome };
}
