import type { Server, Socket } from 'socket.io';
import type {
  ClientToServerEvents as ProtocolClientEvents,
  Inbound,
  ServerToClientEvents,
} from '../../protocol/socket-events.js';
import type { Principal } from '../../delivery/auth/principal.js';
import type { TokenBucket } from '../../core/support/token-bucket.js';
import type { SocketConnection } from './socket-connection.js';
import type { AgentConnection } from '../../delivery/agents/agents.service.js';

export type { ServerToClientEvents };
export type { Ack, Failure, LogsSubscribeOk, SubscribeOk } from '../../protocol/socket-events.js';

/** What the server receives: the protocol's client events, payloads validated on arrival. */
export type ClientToServerEvents = Inbound<ProtocolClientEvents>;

export type InterServerEvents = Record<string, never>;

export interface SocketData {
  principal: Principal;
  /** The socket as subscriptions and session rules see it (set on connection). */
  connection: SocketConnection;
  /** Its client messages' rate limit: every inbound packet takes a token. */
  messages: TokenBucket;
  /** Set for an agent's socket (token role `agent`): where its commands go. */
  agent?: AgentConnection;
  /** When its recent RATE_LIMITED answers were sent (abuse check); absent until one is. */
  rejections?: number[];
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
