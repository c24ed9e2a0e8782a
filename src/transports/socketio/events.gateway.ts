import { releaseUpgradeRequest } from '../../internals/engine-io.js';
import { Inject } from '@nestjs/common';
import {
  WebSocketGateway,
  type OnGatewayConnection,
  type OnGatewayDisconnect,
  type OnGatewayInit,
} from '@nestjs/websockets';
import { Authenticator } from '../../delivery/auth/authenticator.js';
import { canAccessProject, revoke, type Principal } from '../../delivery/auth/principal.js';
import type { Revocation } from '../../delivery/sessions/revocation-store.port.js';
import { RevocationService } from '../../delivery/sessions/revocation.service.js';
import { DeadlineWheel } from '../../core/support/deadline-wheel.js';
import { GatewayError } from '../../core/errors.js';
import { LOGGER, type JsonLogger } from '../../core/support/json-logger.js';
import { TokenBucket } from '../../core/support/token-bucket.js';
import { validateDto } from '../../core/support/validate-dto.js';
import { APP_CONFIG, type AppConfig } from '../../config/app-config.js';
import { ConnectionLeases } from '../../delivery/sessions/connection-leases.service.js';
import { GatewayMetrics } from '../../core/support/metrics.js';
import { DrainService } from './drain.service.js';
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

/** `auth:expiring` goes out this long before a token's `exp`. */
const EXPIRY_WARNING_MS = 60_000;
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
 * Also keeps each session's token current (`auth:refresh`, expiry) and applies
 * revocations to the sockets on this replica.
 */
@WebSocketGateway()
export class EventsGateway implements OnGatewayInit, OnGatewayConnection, OnGatewayDisconnect {
  /** Sockets due an `auth:expiring` warning, and sockets due to close at `exp`: one timer each for all sockets. */
  private readonly expiryWarnings = new DeadlineWheel<GatewaySocket>((socket) =>
    this.warnExpiry(socket),
  );
  private readonly expiries = new DeadlineWheel<GatewaySocket>((socket) => this.expire(socket));
  /** Sockets on this replica by user, for revocations. */
  private readonly byUser = new Map<string, Set<GatewaySocket>>();
  /** Each socket by its Engine.IO connection, for the packet counter shared by all of them. */
  private readonly socketsByConn = new WeakMap<object, GatewaySocket>();

  constructor(
    @Inject(SubscriptionService) private readonly subscriptions: SubscriptionService,
    @Inject(DrainService) private readonly drain: DrainService,
    @Inject(Authenticator) private readonly auth: Authenticator,
    @Inject(RevocationService) private readonly revocations: RevocationService,
    @Inject(ConnectionLeases) private readonly leases: ConnectionLeases,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(GatewayMetrics) private readonly metrics: GatewayMetrics,
    @Inject(LOGGER) private readonly logger: JsonLogger,
  ) {}

  afterInit(server: GatewayServer): void {
    server.use(handshakeAuth(this.auth, this.leases));
    this.drain.attach(server);
    this.revocations.onRevoked((revocation) => this.applyRevocation(revocation));
    this.revocations.onMissedAnnouncements(() => void this.recheckAll());
    this.metrics.addCollector(() => {
      const { expiryWarnings, expiries } = this;
      this.metrics.internalObjects.set(
        { kind: 'socket_timers' },
        expiryWarnings.size + expiries.size,
      );
      this.metrics.internalObjects.set({ kind: 'socket_timer_entries' }, expiries.size);
      this.metrics.internalObjects.set({ kind: 'user_index' }, this.byUser.size);
      this.metrics.internalObjects.set({ kind: 'connection_leases' }, this.leases.size);
      // Every socket has a room named after its id; count only the others (none are
      // made today: live batches go to feed groups, not rooms).
      const sockets = server.of('/').sockets;
      let rooms = 0;
      for (const room of server.of('/').adapter.rooms.keys()) if (!sockets.has(room)) rooms++;
      this.metrics.internalObjects.set({ kind: 'rooms' }, rooms);
    });
  }

  handleConnection(socket: GatewaySocket): void {
    this.metrics.connectedSockets.inc();
    socket.data.connection = new SocketConnection(socket);
    socket.data.messages = new TokenBucket(this.config.limits.messagesPerSecond);
    this.index(socket);
    this.socketsByConn.set(socket.conn, socket);
    socket.conn.on('packet', this.countPacket);
    socket.onAny(this.listener);
    this.scheduleExpiry(socket);
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
      return this.subscriptions.subscribeLogs(socket.data.connection, dto, ack);
    }),
    'logs:unsubscribe': route(LogsUnsubscribeDto, (socket, dto, ack: (r: { ok: true }) => void) => {
      this.subscriptions.unsubscribe(socket.data.connection, {
        projectId: dto.projectId,
        runId: dto.runId,
      });
      ack({ ok: true });
    }),
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
    if (socket.data.connection) this.subscriptions.dropConnection(socket.data.connection);
    this.cancelExpiry(socket);
    this.unindex(socket);
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
    this.cancelExpiry(socket);
    this.scheduleExpiry(socket);
    return principal;
  }

  /** A revocation announced by any replica: apply it to this replica's sockets of that user. */
  private applyRevocation(revocation: Revocation): void {
    for (const socket of this.byUser.get(revocation.userId) ?? []) {
      if (!this.revocations.appliesTo(revocation, socket.data.principal)) continue;
      if (revocation.projectId === null) {
        this.logger.event('info', 'user revoked: closing socket', { socket: socket.id });
        // A server-side disconnect: the client must not reconnect with this token.
        socket.disconnect(true);
        continue;
      }
      this.revokeProject(socket, revocation.projectId);
    }
  }

  private revokeProject(socket: GatewaySocket, projectId: string): void {
    revoke(socket.data.principal, projectId);
    this.subscriptions.dropProjects(socket.data.connection, (p) => p !== projectId);
    socket.emit('access:revoked', { projectId });
  }

  /** Announcements may have been missed: judge every live session against the store again. */
  private async recheckAll(): Promise<void> {
    for (const [, sockets] of this.byUser) {
      for (const socket of [...sockets]) {
        const found = await this.revocations.recheck(socket.data.principal);
        if (found.kind === 'user') socket.disconnect(true);
        else if (found.kind === 'projects') {
          for (const projectId of found.projects) this.revokeProject(socket, projectId);
        }
      }
    }
  }

  private index(socket: GatewaySocket): void {
    const sub = socket.data.principal.sub;
    let sockets = this.byUser.get(sub);
    if (!sockets) {
      sockets = new Set();
      this.byUser.set(sub, sockets);
    }
    sockets.add(socket);
  }

  private unindex(socket: GatewaySocket): void {
    const sub = socket.data.principal?.sub;
    const sockets = sub === undefined ? undefined : this.byUser.get(sub);
    if (!sockets) return;
    sockets.delete(socket);
    if (sockets.size === 0) this.byUser.delete(sub);
  }

  /** Warns ahead of `exp` and closes the socket at `exp` (no skew allowance for live sockets). */
  private scheduleExpiry(socket: GatewaySocket): void {
    const { expiresAt } = socket.data.principal;
    socket.data.warnSlot = this.expiryWarnings.add(socket, expiresAt - EXPIRY_WARNING_MS);
    socket.data.expirySlot = this.expiries.add(socket, expiresAt);
  }

  private cancelExpiry(socket: GatewaySocket): void {
    const { warnSlot, expirySlot } = socket.data;
    if (warnSlot !== undefined) this.expiryWarnings.cancel(socket, warnSlot);
    if (expirySlot !== undefined) this.expiries.cancel(socket, expirySlot);
    socket.data.warnSlot = socket.data.expirySlot = undefined;
  }

  private warnExpiry(socket: GatewaySocket): void {
    socket.data.warnSlot = undefined;
    socket.emit('auth:expiring', {
      expiresAt: new Date(socket.data.principal.expiresAt).toISOString(),
    });
  }

  private expire(socket: GatewaySocket): void {
    socket.data.expirySlot = undefined;
    socket.disconnect(true);
  }
}
