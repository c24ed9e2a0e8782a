import type { EventEnvelope, Snapshot } from '../events/envelope.js';
import type { StreamRef } from '../history/event-history.port.js';

/**
 * One viewer's connection, whatever carries it (a Socket.IO socket, an SSE
 * response): what subscriptions and feeds need from it.
 */
export interface ViewerConnection {
  readonly id: string;
  isOpen(): boolean;
  /**
   * True when live batches must be written to it one by one (SSE); false when
   * it joins Socket.IO rooms and receives each batch encoded once per room.
   */
  readonly direct: boolean;
  send(events: EventEnvelope[]): void;
  join(room: string): void;
  leave(room: string): void;
  /** Bytes handed to the connection and not yet written to the network. */
  bufferedBytes(): number;
  resync(projectId: string, snapshot: Snapshot): void;
  lagged(stream: StreamRef, lastDeliveredId: string): void;
  /** Tears the connection down (a viewer past the hard limit); the client reconnects and resumes. */
  abort(): void;
}
