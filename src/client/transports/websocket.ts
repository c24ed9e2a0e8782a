import { io, type Socket } from 'socket.io-client';
import type {
  ClientToServerEvents,
  CommandInterruptRequest,
  CommandRequest,
  LogsSubscribeOk,
  Reply,
  ServerToClientEvents,
  SubscribeOk,
} from '../../protocol/socket-events.js';
import type { LogFeed, ProjectFeed } from '../project-feed.js';
import { GatewayClientError, type EventEnvelope } from '../types.js';
import type { Transport, TransportHost } from './transport.js';

/** The gateway's socket, typed by the protocol the server implements (one definition for both). */
type GatewaySocket = Socket<ServerToClientEvents, ClientToServerEvents>;

const ACK_TIMEOUT_MS = 10_000;

/** Socket.IO over WebSocket only (no Engine.IO polling: our own fallbacks are SSE and history polling). */
export class WebSocketTransport implements Transport {
  readonly name = 'websocket' as const;
  private socket: GatewaySocket | null = null;
  private stopped = false;

  constructor(
    private readonly host: TransportHost,
    private readonly timeoutMs: number,
  ) {}

  async start(): Promise<void> {
    const token = await this.host.token();
    const socket: GatewaySocket = io(this.host.baseUrl, {
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      timeout: this.timeoutMs,
      auth: { token },
    });
    this.socket = socket;
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once(
        'connect_error',
        (err: Error & { data?: { code?: string; message?: string } }) => {
          socket.close();
          const code = err.data?.code ?? 'UNAVAILABLE';
          reject(
            new GatewayClientError(code, err.data?.message ?? err.message, code === 'UNAUTHORIZED'),
          );
        },
      );
    });
    this.wire(socket);
    await Promise.all([
      ...this.host.projects().map((feed) => this.subscribe(feed)),
      ...this.host.logs().map((feed) => this.subscribeLog(feed)),
    ]);
  }

  addLog(feed: LogFeed): void {
    if (this.socket?.connected) void this.subscribeLog(feed).catch(() => undefined);
  }

  removeLog(projectId: string, runId: string): void {
    this.socket?.emit('logs:unsubscribe', { projectId, runId }, () => undefined);
  }

  private async subscribeLog(feed: LogFeed): Promise<void> {
    const socket = this.socket;
    if (!socket) throw new GatewayClientError('UNAVAILABLE', 'not connected');
    // socket.io-client types a timed acknowledgement loosely; the protocol says what it is.
    const ack = (await socket.timeout(ACK_TIMEOUT_MS).emitWithAck('logs:subscribe', {
      projectId: feed.projectId,
      runId: feed.runId,
      ...(feed.lastId !== null ? { since: feed.lastId } : {}),
    })) as Reply<LogsSubscribeOk>;
    if (!ack.ok) throw new GatewayClientError(ack.error.code, ack.error.message);
  }

  add(feed: ProjectFeed): void {
    if (this.socket?.connected) void this.subscribe(feed).catch(() => undefined);
  }

  remove(projectId: string): void {
    this.socket?.emit('unsubscribe', { projectId }, () => undefined);
  }

  async command(request: CommandRequest): Promise<Reply<{ commandId: string }>> {
    const socket = this.socket;
    if (!socket) throw new GatewayClientError('UNAVAILABLE', 'not connected', false, true);
    return (await socket.timeout(ACK_TIMEOUT_MS).emitWithAck('command:request', request)) as Reply<{
      commandId: string;
    }>;
  }

  async interruptCommand(request: CommandInterruptRequest): Promise<Reply<Record<string, never>>> {
    const socket = this.socket;
    if (!socket) throw new GatewayClientError('UNAVAILABLE', 'not connected', false, true);
    return (await socket
      .timeout(ACK_TIMEOUT_MS)
      .emitWithAck('command:interrupt', request)) as Reply<Record<string, never>>;
  }

  refresh(token: string): void {
    this.socket?.emit('auth:refresh', { token }, () => undefined);
  }

  stop(): void {
    this.stopped = true;
    this.socket?.close();
    this.socket = null;
  }

  private async subscribe(feed: ProjectFeed): Promise<void> {
    const socket = this.socket;
    if (!socket) throw new GatewayClientError('UNAVAILABLE', 'not connected');
    const ack = (await socket.timeout(ACK_TIMEOUT_MS).emitWithAck('subscribe', {
      projectId: feed.projectId,
      ...(feed.lastId !== null ? { since: feed.lastId } : {}),
      ...(feed.options.types ? { types: feed.options.types } : {}),
    })) as Reply<SubscribeOk>;
    if (!ack.ok) {
      const { error } = ack;
      feed.error(error);
      if (error.code === 'FORBIDDEN' || error.code === 'INVALID_PAYLOAD') return;
      throw new GatewayClientError(error.code, error.message);
    }
    if (ack.snapshot) feed.snapshot(ack.snapshot, ack.position, feed.lastId !== null);
    else if (ack.position) feed.position(ack.position);
  }

  private wire(socket: GatewaySocket): void {
    socket.on('events', (events) => {
      const byProject = new Map<string, EventEnvelope[]>();
      for (const event of events) {
        if (event.type === 'agent.run.log') {
          const runId = (event.data as { runId: string }).runId;
          this.host.log(event.projectId, runId)?.accept([event]);
          continue;
        }
        const list = byProject.get(event.projectId) ?? [];
        list.push(event);
        byProject.set(event.projectId, list);
      }
      for (const [projectId, list] of byProject) this.host.project(projectId)?.accept(list);
    });
    socket.on('subscription:resync', ({ projectId, position, snapshot }) =>
      this.host.project(projectId)?.snapshot(snapshot, position, true),
    );
    socket.on('subscription:lagged', ({ projectId, runId }) => {
      const feed = this.host.project(projectId);
      if (feed && runId === undefined) void this.subscribe(feed).catch(() => undefined);
    });
    socket.on('access:revoked', ({ projectId }) =>
      this.host.project(projectId)?.error({ code: 'FORBIDDEN', message: 'access revoked' }),
    );
    socket.on('auth:expiring', () => this.host.refreshToken());
    // Once told of a drain, the close that follows is a move, not a failure:
    // whichever comes first (our timer or the server's close) moves at once,
    // with no backoff. The close can arrive before a timer of 0 ms fires.
    let draining = false;
    let moveTimer: ReturnType<typeof setTimeout> | undefined;
    socket.on('server:draining', ({ reconnectInMs }) => {
      draining = true;
      moveTimer = setTimeout(() => {
        if (this.socket === socket && !this.stopped) this.host.lost(this, 'draining', true);
      }, reconnectInMs);
    });
    socket.on('disconnect', (reason) => {
      // Gone (closed by us or by the server): nothing is left to move off.
      clearTimeout(moveTimer);
      if (this.stopped || this.socket !== socket) return;
      this.host.lost(this, reason, draining);
    });
  }
}
