import type { EventEnvelope, Snapshot } from '../../core/envelope.js';
import type { StreamRef } from '../../core/event-store.port.js';
import type { OutgoingBatch } from '../../delivery/outgoing-batch.js';
import type { Viewer } from '../../delivery/viewer.js';
import { bufferedBytes, closeConnection } from './connection.js';
import { writeBatch } from './event-frames.js';
import type { GatewaySocket } from './socket-events.js';

/** Largest `events` frame written at once (a catch-up is split into several). */
const CHUNK = 500;

/**
 * A Socket.IO socket as a viewer: live batches as frames encoded once for
 * every socket, emits for the rest. A class (methods on the prototype), not an object of closures: one
 * lives as long as each socket, and at 10,000 sockets per replica closures
 * are kilobytes per connection.
 */
export class SocketConnection implements Viewer {
  constructor(private readonly socket: GatewaySocket) {}

  get id(): string {
    return this.socket.id;
  }

  isOpen(): boolean {
    return this.socket.connected;
  }

  send(events: readonly EventEnvelope[]): void {
    for (let i = 0; i < events.length; i += CHUNK) {
      this.socket.emit('events', events.slice(i, i + CHUNK));
    }
  }

  write(batch: OutgoingBatch): void {
    writeBatch(this.socket, batch);
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
