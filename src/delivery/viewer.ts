import type { EventEnvelope, Snapshot } from '../core/envelope.js';
import type { StreamRef } from '../core/event-store.port.js';
import type { OutgoingBatch } from './outgoing-batch.js';

/**
 * One viewer's connection, whatever carries it (a Socket.IO socket, an SSE
 * response): everything subscriptions and feeds need from it, and all they
 * know of it. One connection may follow several streams.
 */
export interface Viewer {
  readonly id: string;
  isOpen(): boolean;
  /** Events for this viewer alone (its catch-up, a slow viewer's queue). */
  send(events: readonly EventEnvelope[]): void;
  /** A live batch written to every live viewer of a group: encoded once per transport (see OutgoingBatch). */
  write(batch: OutgoingBatch): void;
  /** Bytes handed to the connection and not yet written to the network. */
  bufferedBytes(): number;
  /** History behind this viewer was lost: its state starts over from `snapshot`. */
  resync(projectId: string, snapshot: Snapshot): void;
  /** Its subscription to `stream` ended: it resubscribes with `since: lastDeliveredId`. */
  lagged(stream: StreamRef, lastDeliveredId: string): void;
  /** Tears the connection down (a viewer past the hard limit); the client reconnects and resumes. */
  abort(): void;
}
