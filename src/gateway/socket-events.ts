import type { Server, Socket } from 'socket.io';
import type { ErrorBody } from '../common/errors.js';
import type { EventEnvelope } from '../events/envelope.js';
import type { Principal } from '../auth/principal.js';
import type { TokenBucket } from '../common/token-bucket.js';
import type { ViewerConnection } from './viewer-connection.js';

/** The wire protocol as types: the design doc's Socket.IO tables. */

export type Failure = { ok: false; error: ErrorBody };
export type Ack<T> = (reply: ({ ok: true } & T) | Failure) => void;

export interface SubscribeOk {
  projectId: string;
  position: string;
  replayed: number;
  snapshot?: Record<string, EventEnvelope>;
  resync?: true;
}

export interface LogsSubscribeOk {
  /** Id in the run's own log stream; lines after it follow. */
  position: string;
  replayed: number;
  resync?: true;
}

export interface ClientToServerEvents {
  subscribe: (payload: unknown, ack: Ack<SubscribeOk>) => void;
  unsubscribe: (payload: unknown, ack: Ack<Record<string, never>>) => void;
  'logs:subscribe': (payload: unknown, ack: Ack<LogsSubscribeOk>) => void;
  'logs:unsubscribe': (payload: unknown, ack: Ack<Record<string, never>>) => void;
  'auth:refresh': (payload: unknown, ack: Ack<{ expiresAt: string }>) => void;
}

export interface ServerToClientEvents {
  events: (events: EventEnvelope[]) => void;
  'subscription:resync': (payload: {
    projectId: string;
    position: string;
    snapshot: Record<string, EventEnvelope>;
  }) => void;
  /** `runId` is set when the dropped subscription was a run's log stream (then the id is the run's). */
  'subscription:lagged': (payload: {
    projectId: string;
    runId?: string;
    lastDeliveredId: string;
  }) => void;
  'server:draining': (payload: { reconnectInMs: number }) => void;
  'auth:expiring': (payload: { expiresAt: string }) => void;
  'access:revoked': (payload: { projectId: string }) => void;
}

export type InterServerEvents = Record<string, never>;

export interface SocketData {
  principal: Principal;
  /** The socket as subscriptions see it (set on connection). */
  connection: ViewerConnection;
  /** Its client messages' rate limit: every inbound packet takes a token. */
  messages: TokenBucket;
  /** When its recent RATE_LIMITED answers were sent (abuse check); absent until one is. */
  rejections?: number[];
  /** Where its `auth:expiring` warning and its close at `exp` are scheduled (gateway's deadline wheels). */
  warnSlot?: number;
  expirySlot?: number;
}

export type GatewayServer = Server<
  ClientToServerEvents,
  ServerToClientEvents,
  InterServerEvents,
  SocketData
>;
export type GatewaySocket = Socket<
  ClientToServerEvents,
  ServerToClientEvents,
  InterServerEvents,
  SocketData
>;
