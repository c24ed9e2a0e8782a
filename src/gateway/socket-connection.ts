import { bufferedBytes, closeConnection } from './connection.js';
import type { GatewaySocket } from './socket-events.js';
import type { ViewerConnection } from './viewer-connection.js';

/** Largest `events` frame written at once (a catch-up is split into several). */
const CHUNK = 500;

/** A Socket.IO socket as a viewer connection: rooms for live batches, emits for the rest. */
export function socketConnection(socket: GatewaySocket): ViewerConnection {
  return {
    id: socket.id,
    direct: false,
    isOpen: () => socket.connected,
    send: (events) => {
      for (let i = 0; i < events.length; i += CHUNK) {
        socket.emit('events', events.slice(i, i + CHUNK));
      }
    },
    join: (room) => void socket.join(room),
    leave: (room) => void socket.leave(room),
    bufferedBytes: () => bufferedBytes(socket),
    resync: (projectId, { position, snapshot }) =>
      socket.emit('subscription:resync', { projectId, position, snapshot }),
    lagged: ({ projectId, runId }, lastDeliveredId) =>
      socket.emit('subscription:lagged', {
        projectId,
        ...(runId !== undefined ? { runId } : {}),
        lastDeliveredId,
      }),
    abort: () => closeConnection(socket, 'abort'),
  };
}
