import type { EventEnvelope, Snapshot } from '../events/envelope.js';
import type { StreamRef } from '../history/event-history.port.js';
import type { FeedViewer } from './stream-feed.js';
import type { ViewerConnection } from './viewer-connection.js';

/** The feed dropped `viewer` (see `FeedViewer.lagged`); one handler for all viewers. */
export type LaggedHandler = (
  viewer: ConnectionViewer,
  lastDeliveredId: string,
  reason: 'slow' | 'lost',
) => void;

/**
 * One connection's subscription to one stream, as its feed sees it. A class
 * sharing one `onLagged` handler rather than an object of closures per
 * subscription: there is one per viewer per stream, for as long as it lasts.
 */
export class ConnectionViewer implements FeedViewer {
  constructor(
    readonly connection: ViewerConnection,
    readonly stream: StreamRef,
    /** The subscription's key on its connection (`streamKey`). */
    readonly key: string,
    private readonly onLagged: LaggedHandler,
  ) {}

  get id(): string {
    return this.connection.id;
  }

  get direct(): boolean {
    return this.connection.direct;
  }

  send(events: EventEnvelope[]): void {
    this.connection.send(events);
  }

  join(room: string): void {
    this.connection.join(room);
  }

  leave(room: string): void {
    this.connection.leave(room);
  }

  bufferedBytes(): number {
    return this.connection.bufferedBytes();
  }

  resync(snapshot: Snapshot): void {
    this.connection.resync(this.stream.projectId, snapshot);
  }

  lagged(lastDeliveredId: string, reason: 'slow' | 'lost'): void {
    this.onLagged(this, lastDeliveredId, reason);
  }
}
