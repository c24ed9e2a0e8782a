import { releaseUpgradeRequest } from '../../internals/engine-io.js';
import { Inject } from '@nestjs/common';
import {
  WebSocketGateway,
  type OnGatewayConnection,
  type OnGatewayDisconnect,
  type OnGatewayInit,
} from '@nestjs/websockets';
import { Authenticator } from '../../delivery/auth/authenticator.js';
import { canAccessProject, type Principal } from '../../delivery/auth/principal.js';
import { Sessions } from '../../delivery/sessions/sessions.js';
import { GatewayError } from '../../core/errors.js';
import { ZERO_ID } from '../../core/ids.js';
import { ALL_RUNS } from '../../protocol/socket-events.js';
import { LOGGER, type JsonLogger } from '../../core/support/json-logger.js';
import { TokenBucket } from '../../core/support/token-bucket.js';
import { validateDto } from '../../core/support/validate-dto.js';
import { APP_CONFIG, type AppConfig } from '../../config/app-config.js';
import { ConnectionLeases } from '../../delivery/sessions/connection-leases.service.js';
import { GatewayMetrics } from '../../core/support/metrics.js';
import {
  AuthRefreshDto,
  LogsSubscribeDto,
  LogsUnsubscribeDto,
  SubscribeDto,
  UnsubscribeDto,
} from '../../delivery/subscribe.dto.js';
import { handshakeAuth } from './handshake-auth.js';
import { SocketConnection } from './socket-connection.js';
import type {
  Ack,
  ClientToServerEvents,
  Failure,
  GatewayServer,
  GatewaySocket,
  LogsSubscribeOk,
  SubscribeOk,
} from './socket-events.js';
import { SubscriptionService } from '../../delivery/subscription.service.js';
import { AgentsService, type AgentConnection } from '../../delivery/agents/agents.service.js';
import {
  CommandCompletedDto,
  CommandFailedDto,
  CommandInterruptDto,
  CommandReportDto,
  CommandRequestDto,
} from '../../delivery/agents/command.dto.js';

/** Window over which RATE_LIMITED answers are counted towards a disconnect. */
const ABUSE_WINDOW_MS = 10_000;

/** One client message type: its payload class and what it runs once validated. */
interface Route {
  dto: new () => object;
  run: (socket: GatewaySocket, dto: object, ack: (reply: never) => void) => Promise<void> | void;
}

function route<T extends object, R>(
  dto: new () => T,
  run: (socket: GatewaySocket, dto: T, ack: (reply: R) => void) => Promise<void> | void,
): Route {
  return { dto, run: run as Route['run'] };
}

/**
 * The Socket.IO face of the gateway. Messages are routed by hand rather than
 * with @SubscribeMessage so each one is rate limited, validated and answered
 * with a coded ack, and so `subscribe` can send its ack before the events.
 * Each socket is a session (`SocketConnection`): expiry, revocation and drain
 * are applied to it by `Sessions`, as to every other kind of connection.
 */
@WebSocketGateway()
export class EventsGateway implements OnGatewayInit, OnGatewayConnection, OnGatewayDisconnect {
  /** Each socket by its Engine.IO connection, for the packet counter shared by all of them. */
  private readonly socketsByConn = new WeakMap<object, GatewaySocket>();

  constructor(
    @Inject(SubscriptionService) private readonly subscriptions: SubscriptionService,
    @Inject(AgentsService) private readonly agents: AgentsService,
    @Inject(Sessions) private readonly sessions: Sessions,
    @Inject(Authenticator) private readonly auth: Authenticator,
    @Inject(ConnectionLeases) private readonly leases: ConnectionLeases,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(GatewayMetrics) private readonly metrics: GatewayMetrics,
    @Inject(LOGGER) private readonly logger: JsonLogger,
  ) {}

  afterInit(server: GatewayServer): void {
    server.use(handshakeAuth(this.auth, this.leases));
    this.metrics.countInternal(() => ({ connection_leases: this.leases.size }));
  }

  handleConnection(socket: GatewaySocket): void {
    this.metrics.connectedSockets.inc();
    const connection = new SocketConnection(socket, this.subscriptions);
    socket.data.connection = connection;
    socket.data.messages = new TokenBucket(this.config.limits.messagesPerSecond);
    this.socketsByConn.set(socket.conn, socket);
    socket.conn.on('packet', this.countPacket);
    socket.onAny(this.listener);
    this.sessions.open(connection);
    if (socket.data.principal.role === 'agent') this.connectAgent(socket);
    // The handshake (headers, address, query) is built and checked by now, and
    // nothing reads the upgrade request again; engine.io would hold it, its
    // raw headers and streams for the life of the connection. Socket.IO's
    // memory-usage guide recommends letting it go.
    releaseUpgradeRequest(socket.conn);
  }

  /**
   * What each client message runs, once validated. Shared by every socket
   * (the listeners get the socket as `this`): nothing per message type is
   * allocated per connection.
   */
  private readonly routes: { [E in keyof ClientToServerEvents]: Route } = {
    subscribe: route(SubscribeDto, (socket, dto, ack: Ack<SubscribeOk>) => {
      this.requireAccess(socket, dto.projectId);
      return this.subscriptions.subscribe(socket.data.connection, dto, ack);
    }),
    unsubscribe: route(UnsubscribeDto, (socket, dto, ack: (r: { ok: true }) => void) => {
      this.subscriptions.unsubscribe(socket.data.connection, { projectId: dto.projectId });
      ack({ ok: true });
    }),
    'logs:subscribe': route(LogsSubscribeDto, (socket, dto, ack: Ack<LogsSubscribeOk>) => {
      this.requireAccess(socket, dto.projectId);
      const viewer = socket.data.connection;
      if (dto.runId !== ALL_RUNS) return this.subscriptions.subscribeLogs(viewer, dto, ack);
      return this.subscriptions
        .followRuns(viewer, dto.projectId)
        .then((runs) => ack({ ok: true, position: ZERO_ID, replayed: 0, runs }));
    }),
    'logs:unsubscribe': route(LogsUnsubscribeDto, (socket, dto, ack: (r: { ok: true }) => void) => {
      const viewer = socket.data.connection;
      if (dto.runId === ALL_RUNS) this.subscriptions.unfollowRuns(viewer, dto.projectId);
      else this.subscriptions.unsubscribe(viewer, { projectId: dto.projectId, runId: dto.runId });
      ack({ ok: true });
    }),
    'command:request': route(
      CommandRequestDto,
      (socket, dto, ack: (r: { ok: true; commandId: string }) => void) =>
        this.agents
          .request(socket.data.principal, dto)
          .then((commandId) => ack({ ok: true, commandId })),
    ),
    'command:interrupt': route(CommandInterruptDto, (socket, dto, ack: (r: { ok: true }) => void) =>
      this.agents
        .interrupt(socket.data.principal, dto.projectId, dto.commandId)
        .then(() => ack({ ok: true })),
    ),
    'command:accepted': route(CommandReportDto, (socket, dto, ack: (r: { ok: true }) => void) =>
      this.agents
        .accepted(agentOf(socket), socket.id, dto.commandId, dto.projectId)
        .then(() => ack({ ok: true })),
    ),
    'command:completed': route(CommandCompletedDto, (socket, dto, ack: (r: { ok: true }) => void) =>
      this.agents
        .completed(agentOf(socket), socket.id, dto.commandId, dto.projectId, dto.result)
        .then(() => ack({ ok: true })),
    ),
    'command:failed': route(CommandFailedDto, (socket, dto, ack: (r: { ok: true }) => void) =>
      this.agents
        .failed(agentOf(socket), socket.id, dto.commandId, dto.projectId, dto.error)
        .then(() => ack({ ok: true })),
    ),
    'auth:refresh': route(
      AuthRefreshDto,
      (socket, dto, ack: (r: { ok: true; expiresAt: string }) => void) =>
        this.refresh(socket, dto.token).then((principal) =>
          ack({ ok: true, expiresAt: new Date(principal.expiresAt).toISOString() }),
        ),
    ),
  };

  /**
   * Every inbound packet takes a token from its socket's bucket. Events (and
   * binary events) are counted by the message listener below, routed or not,
   * with an ack or without; every other packet (acks, binary attachments,
   * heartbeats, connects to other namespaces) is counted here, as Engine.IO
   * receives it, so no kind of packet is free. Shared by all sockets (`this`
   * is the Engine.IO connection).
   */
  private readonly countPacket = (() => {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the listener's own `this` is the connection
    const gateway = this;
    return function (this: object, packet: { type: string; data?: unknown }): void {
      const { data } = packet;
      // A Socket.IO EVENT (`2`) or BINARY_EVENT (`5`): the message listener counts it.
      if (
        packet.type === 'message' &&
        typeof data === 'string' &&
        (data[0] === '2' || data[0] === '5')
      ) {
        return;
      }
      const socket = gateway.socketsByConn.get(this);
      if (socket) gateway.take(socket);
    };
  })();

  /**
   * The one listener of every socket (`onAny`): one entry per socket rather
   * than one per message type in each socket's listener table. Every event
   * takes a token; events with no route, and events without an ack callback
   * (nobody to answer), are then dropped.
   */
  private readonly listener = (() => {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the listener's own `this` is the socket
    const gateway = this;
    // A Map: names of Object.prototype members are not routes.
    const routes = new Map<string, Route>(Object.entries(this.routes));
    return function (this: GatewaySocket, event: string, payload: unknown, ack: unknown): void {
      const allowed = gateway.take(this);
      const r = routes.get(event);
      if (r && typeof ack === 'function' && this.connected) {
        gateway.dispatch(this, r, payload, ack as (reply: unknown) => void, allowed);
      }
    };
  })();

  /** Takes a token for one packet; past the budget, counts it, and disconnects a sustained abuser. */
  private take(socket: GatewaySocket): boolean {
    if (socket.data.messages.take()) return true;
    if (this.abusing(socket)) {
      this.logger.event('warn', 'socket disconnected for sustained rate limit abuse', {
        socket: socket.id,
        user: socket.data.principal.sub,
      });
      socket.disconnect(true);
    }
    return false;
  }

  /** Validate and run; every failure (a packet over the rate limit too) is a coded ack, never a thrown error. */
  private dispatch(
    socket: GatewaySocket,
    r: Route,
    payload: unknown,
    reply: (reply: unknown) => void,
    allowed: boolean,
  ): void {
    const fail = (err: unknown) => {
      const error =
        err instanceof GatewayError
          ? err
          : new GatewayError('UNAVAILABLE', 'temporarily unavailable, retry');
      if (!(err instanceof GatewayError)) {
        this.logger.event('error', 'socket handler failed', { socket: socket.id, error: err });
      }
      this.metrics.rejectedMessages.inc({ code: error.code });
      const failure: Failure = { ok: false, error: { code: error.code, message: error.message } };
      reply(failure);
    };
    try {
      if (!allowed) throw new GatewayError('RATE_LIMITED', 'too many messages, slow down');
      const dto = validateDto(r.dto, payload, 'payload');
      const result = r.run(socket, dto, reply);
      if (result) result.catch(fail);
    } catch (err) {
      fail(err);
    }
  }

  /** Counts a packet over the rate limit; true once there were too many within the window. */
  private abusing(socket: GatewaySocket): boolean {
    const now = Date.now();
    const recent = (socket.data.rejections ?? []).filter((at) => now - at < ABUSE_WINDOW_MS);
    recent.push(now);
    socket.data.rejections = recent;
    return recent.length >= this.config.limits.abuseRejections;
  }

  handleDisconnect(socket: GatewaySocket): void {
    this.metrics.connectedSockets.dec();
    const { connection, agent } = socket.data;
    if (agent) {
      this.agents
        .disconnect(agent)
        .catch((error: unknown) =>
          this.logger.event('warn', 'agent disconnect failed', { socket: socket.id, error }),
        );
    }
    if (connection) {
      this.subscriptions.dropConnection(connection);
      this.sessions.close(connection);
    }
  }

  /** An agent's socket: online in its projects, and the place its commands are handed to. */
  private connectAgent(socket: GatewaySocket): void {
    const { principal } = socket.data;
    const agent: AgentConnection = {
      id: socket.id,
      agentId: principal.sub,
      projects: principal.projects === '*' ? [] : [...principal.projects],
      isOpen: () => socket.connected,
      command: (delivery) => socket.emit('command', delivery),
      interrupt: (projectId, commandId) =>
        socket.emit('command:interrupt', { projectId, commandId }),
    };
    socket.data.agent = agent;
    this.agents.connect(agent).catch((error: unknown) => {
      // Without presence and routing the agent cannot work: it reconnects and tries again.
      this.logger.event('warn', 'agent connect failed', { socket: socket.id, error });
      socket.disconnect(true);
    });
  }

  private requireAccess(socket: GatewaySocket, projectId: string): void {
    if (!canAccessProject(socket.data.principal, projectId)) {
      throw new GatewayError('FORBIDDEN', `no access to project ${projectId}`);
    }
  }

  /**
   * Replaces the session's token with a newer one of the same user: its
   * expiry and project access apply from now; subscriptions to projects it no
   * longer grants are dropped at once.
   */
  private async refresh(socket: GatewaySocket, token: string): Promise<Principal> {
    const principal = await this.auth.authenticate(token);
    if (principal.sub !== socket.data.principal.sub) {
      throw new GatewayError('UNAUTHORIZED', 'a refreshed token must have the same subject');
    }
    if (!socket.connected) throw new GatewayError('UNAVAILABLE', 'connection closed');
    socket.data.principal = principal;
    this.subscriptions.dropProjects(socket.data.connection, (projectId) =>
      canAccessProject(principal, projectId),
    );
    this.sessions.renewed(socket.data.connection);
    return principal;
  }
}

/** The principal of an agent's socket; FORBIDDEN for any other kind of client. */
function agentOf(socket: GatewaySocket): Principal {
  const { principal } = socket.data;
  if (principal.role !== 'agent') {
    throw new GatewayError('FORBIDDEN', 'only an agent (token role agent) reports on commands');
  }
  return principal;
}
