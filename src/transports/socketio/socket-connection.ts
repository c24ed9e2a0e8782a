import type { EventEnvelope, Snapshot } from '../../core/envelope.js';
import type { StreamRef } from '../../core/event-store.port.js';
import type { OutgoingBatch } from '../../delivery/outgoing-batch.js';
import type { Viewer } from '../../delivery/viewer.js';
import { revoke, type Principal } from '../../delivery/auth/principal.js';
import type { Session } from '../../delivery/sessions/sessions.js';
import type { SubscriptionService } from '../../delivery/subscription.service.js';
import { bufferedBytes, closeConnection } from './connection.js';
import { writeBatch } from './event-frames.js';
import type { GatewaySocket } from './socket-events.js';

/** Largest `events` frame written at once (a catch-up is split into several). */
const CHUNK = 500;

/**
 * A Socket.IO socket as a viewer (live batches as frames encoded once for
 * every socket, emits for the rest) and as a session (how a socket is warned,
 * narrowed or closed; when is decided by `Sessions`). A class (methods on the prototype), not an object of closures: one
 * lives as long as each socket, and at 10,000 sockets per replica closures
 * are kilobytes per connection.
 */
export class SocketConnection implements Viewer, Session {
  constructor(
    private readonly socket: GatewaySocket,
    private readonly subscriptions: SubscriptionService,
  ) {}

  get principal(): Principal {
    return this.socket.data.principal;
  }

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

  warnExpiry(): void {
    this.socket.emit('auth:expiring', {
      expiresAt: new Date(this.principal.expiresAt).toISOString(),
    });
  }

  expire(): void {
    this.socket.disconnect(true);
  }

  revoked(projectId: string | null): void {
    if (projectId === null) {
      // A server-side disconnect: the client must not reconnect with this token.
      this.socket.disconnect(true);
      return;
    }
    revoke(this.principal, projectId);
    this.subscriptions.dropProjects(this, (p) => p !== projectId);
    this.socket.emit('access:revoked', { projectId });
  }

  notifyDraining(reconnectInMs: number): void {
    this.socket.emit('server:draining', { reconnectInMs });
  }

  close(): void {
    closeConnection(this.socket, 'graceful');
  }
}
