import type {
  CommandInterruptRequest,
  CommandRequest,
  Reply,
} from '../../protocol/socket-events.js';
import type { LogFeed, ProjectFeed } from '../project-feed.js';
import type { TransportName } from '../types.js';

/** What a transport needs from the client. */
export interface TransportHost {
  baseUrl: string;
  token(): Promise<string>;
  projects(): ProjectFeed[];
  project(projectId: string): ProjectFeed | undefined;
  /** Run log subscriptions (WebSocket only). */
  logs(): LogFeed[];
  log(projectId: string, runId: string): LogFeed | undefined;
  /** The connection is gone; `immediately` when the server asked us to move (drain). */
  lost(transport: Transport, reason: string, immediately?: boolean): void;
  /** A new token is needed now (the server warned of expiry). */
  refreshToken(): void;
  fetch: typeof fetch;
  pollIntervalMs: number;
}

/** One way to the gateway: Socket.IO over WebSocket, SSE, or polling the history endpoint. */
export interface Transport {
  readonly name: TransportName;
  /** Connects and subscribes every project; resolves once live, rejects if this way is closed. */
  start(): Promise<void>;
  add(feed: ProjectFeed): void;
  addLog?(feed: LogFeed): void;
  removeLog?(projectId: string, runId: string): void;
  remove(projectId: string): void;
  /** `command:request`, acknowledged (only where the gateway's socket is: WebSocket). */
  command?(request: CommandRequest): Promise<Reply<{ commandId: string }>>;
  /** `command:interrupt`, acknowledged (WebSocket only). */
  interruptCommand?(request: CommandInterruptRequest): Promise<Reply<Record<string, never>>>;
  /** A refreshed token for the running session. */
  refresh(token: string): void;
  stop(): void;
}
