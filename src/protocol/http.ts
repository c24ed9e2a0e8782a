import type { EventEnvelope } from '../core/envelope.js';

/** `GET /api/projects/:projectId/events/history`: one page, for the server and the client library. */
export interface HistoryPage {
  events: EventEnvelope[];
  /** Pass as `since` to continue: the last event returned, else where you were. */
  position: string;
  hasMore: boolean;
}
