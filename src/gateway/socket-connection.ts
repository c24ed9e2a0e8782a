import type { EventEnvelope, Snapshot } from '../events/envelope.js';
import type { StreamRef } from '../history/event-history.port.js';
import { bufferedBytes, closeConnection } from './connection.js';
import type { GatewaySocket } from './socket-events.js';
import type { ViewerConnection } from './viewer-connection.js';

/** Largest `events` frame written at once (a catch-up is split into several). */
const CHUNK = 500;

/**
 * A Socket.IO socket as a viewer connection: rooms for live batches, emits for
 * the rest. A class (methods on the prototype), not an object of closures: one
 * lives as long as each socket, and at 10,000 sockets per replica closures
 * are kilobytes per connection.
 */
export class SocketConnection implements ViewerConnection {
  readonly direct = false;

  constructor(private readonly socket: GatewaySocket) {}

  get id(): string {
    return this.socket.id;
  }

  isOpen(): boolean {
    return this.socket.connected;
  }

  send(events: EventEnvelope[]): void {
    for (let i = 0; i < events.length; i += CHUNK) {
      this.socket.emit('events', events.slice(i, i + CHUNK));
    }
  }

  join(room: string): void {
    void this.socket.join(room);
  }

  leave(room: string): void {
    void this.socket.leave(room);
  }

  bufferedBytes(): number {
    return bufferedBytes(this.socket);
  }

  resync(projectId: string, { position, snapshot }: Snapshot): void {
    this.socket.emit('subscription:resync', { projectId, position, snapshot });
  }

  lagged({ projectId, runId }: StreamRef, lastDeliveredId: string): void {
    this.socket.emit('subscription:lagged', {
      projectId,
      ...(runId !== undefined ? { runId } : {}),
      lastDeliveredId,
    });
  }

  abort(): void {
    closeConnection(this.socket, 'abort');
  }
}
