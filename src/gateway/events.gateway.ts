import { Inject } from '@nestjs/common';
import {
  WebSocketGateway,
  type OnGatewayConnection,
  type OnGatewayDisconnect,
  type OnGatewayInit,
} from '@nestjs/websockets';
import { Authenticator } from '../auth/authenticator.js';
import { canAccessProject, type Principal } from '../auth/principal.js';
import type { Revocation } from '../auth/revocation/revocation-store.port.js';
import { RevocationService } from '../auth/revocation/revocation.service.js';
import { GatewayError } from '../common/errors.js';
import { LOGGER, type JsonLogger } from '../common/json-logger.js';
import { TokenBucket } from '../common/token-bucket.js';
import { validateDto } from '../common/validate-dto.js';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { ConnectionLeases } from '../limits/connection-leases.service.js';
import { GatewayMetrics } from '../ops/metrics.js';
import { DrainService } from './drain.service.js';
import {
  AuthRefreshDto,
  LogsSubscribeDto,
  LogsUnsubscribeDto,
  SubscribeDto,
  UnsubscribeDto,
} from './dto/subscribe.dto.js';
import { handshakeAuth } from './handshake-auth.js';
import { socketConnection } from './socket-connection.js';
import type { Failure, GatewayServer, GatewaySocket } from './socket-events.js';
import { SubscriptionService } from './subscription.service.js';

/** `auth:expiring` goes out this long before a token's `exp`. */
const EXPIRY_WARNING_MS = 60_000;
/** setTimeout's ceiling; longer-lived tokens are re-checked when it fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** Window over which RATE_LIMITED answers are counted towards a disconnect. */
const ABUSE_WINDOW_MS = 10_000;

/**
 * The Socket.IO face of the gateway. Messages are routed by hand rather than
 * with @SubscribeMessage so each one is rate limited, validated and answered
 * with a coded ack, and so `subscribe` can send its ack before the events.
 * Also keeps each session's token current (`auth:refresh`, expiry) and applies
 * revocations to the sockets on this replica.
 */
@WebSocketGateway()
export class EventsGateway implements OnGatewayInit, OnGatewayConnection, OnGatewayDisconnect {
  private readonly timers = new Map<string, NodeJS.Timeout[]>();
  /** Sockets on this replica by user, for revocations. */
  private readonly byUser = new Map<string, Set<GatewaySocket>>();

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
    this.subscriptions.attach(server);
    this.drain.attach(server);
    this.revocations.onRevoked((revocation) => this.applyRevocation(revocation));
    this.revocations.onMissedAnnouncements(() => void this.recheckAll());
    this.metrics.addCollector(() => {
      let timers = 0;
      for (const list of this.timers.values()) timers += list.length;
      this.metrics.internalObjects.set({ kind: 'socket_timers' }, timers);
      this.metrics.internalObjects.set({ kind: 'socket_timer_entries' }, this.timers.size);
      this.metrics.internalObjects.set({ kind: 'user_index' }, this.byUser.size);
      this.metrics.internalObjects.set({ kind: 'connection_leases' }, this.leases.size);
    });
  }

  handleConnection(socket: GatewaySocket): void {
    this.metrics.connectedSockets.inc();
    const conn = socketConnection(socket);
    socket.data.connection = conn;
    this.index(socket);
    const bucket = new TokenBucket(this.config.limits.messagesPerSecond);
    let rejections: number[] = [];
    const handle = <T extends object, R>(
      cls: new () => T,
      run: (dto: T, ack: (reply: R) => void) => Promise<void> | void,
    ) => {
      return (payload: unknown, ack: unknown): void => {
        // A message without an ack callback has nobody to answer; drop it.
        if (typeof ack !== 'function') return;
        const reply = ack as (r: unknown) => void;
        const fail = (err: unknown) => {
          const error =
            err instanceof GatewayError
              ? err
              : new GatewayError('UNAVAILABLE', 'temporarily unavailable, retry');
          if (!(err instanceof GatewayError)) {
            this.logger.event('error', 'socket handler failed', { socket: socket.id, error: err });
          }
          this.metrics.rejectedMessages.inc({ code: error.code });
          const failure: Failure = {
            ok: false,
            error: { code: error.code, message: error.message },
          };
          reply(failure);
        };
        try {
          if (!bucket.take()) {
            const now = Date.now();
            rejections = rejections.filter((at) => now - at < ABUSE_WINDOW_MS);
            rejections.push(now);
            if (rejections.length >= this.config.limits.abuseRejections) {
              this.logger.event('warn', 'socket disconnected for sustained rate limit abuse', {
                socket: socket.id,
                user: socket.data.principal.sub,
              });
              socket.disconnect(true);
              return;
            }
            throw new GatewayError('RATE_LIMITED', 'too many messages, slow down');
          }
          const dto = validateDto(cls, payload, 'payload');
          const result = run(dto, reply);
          if (result) result.catch(fail);
        } catch (err) {
          fail(err);
        }
      };
    };

    socket.on(
      'subscribe',
      handle(SubscribeDto, (dto, ack) => {
        this.requireAccess(socket, dto.projectId);
        return this.subscriptions.subscribe(conn, dto, ack);
      }),
    );
    socket.on(
      'unsubscribe',
      handle(UnsubscribeDto, (dto, ack: (r: { ok: true }) => void) => {
        this.subscriptions.unsubscribe(conn, { projectId: dto.projectId });
        ack({ ok: true });
      }),
    );
    socket.on(
      'logs:subscribe',
      handle(LogsSubscribeDto, (dto, ack) => {
        this.requireAccess(socket, dto.projectId);
        return this.subscriptions.subscribeLogs(conn, dto, ack);
      }),
    );
    socket.on(
      'logs:unsubscribe',
      handle(LogsUnsubscribeDto, (dto, ack: (r: { ok: true }) => void) => {
        this.subscriptions.unsubscribe(conn, { projectId: dto.projectId, runId: dto.runId });
        ack({ ok: true });
      }),
    );
    socket.on(
      'auth:refresh',
      handle(AuthRefreshDto, (dto, ack: (r: { ok: true; expiresAt: string }) => void) =>
        this.refresh(socket, dto.token).then((principal) =>
          ack({ ok: true, expiresAt: new Date(principal.expiresAt).toISOString() }),
        ),
      ),
    );
    this.scheduleExpiry(socket);
  }

  handleDisconnect(socket: GatewaySocket): void {
    this.metrics.connectedSockets.dec();
    if (socket.data.connection) this.subscriptions.dropConnection(socket.data.connection);
    this.clearTimers(socket);
    this.unindex(socket);
    if (socket.data.leaseId) this.leases.release(socket.data.leaseId);
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
    this.clearTimers(socket);
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
    socket.data.principal.revoked.add(projectId);
    this.subscriptions.dropProjects(socket.data.connection, (p) => p !== projectId);
    socket.emit('access:revoked', { projectId });
  }

  /** Announcements may have been missed: judge every live session against the store again. */
  private async recheckAll(): Promise<void> {
    for (const [, sockets] of this.byUser) {
      for (const socket of [...sockets]) {
        const current = socket.data.principal;
        const fresh: Principal = { ...current, revoked: new Set() };
        try {
          await this.revocations.admit(fresh);
        } catch (err) {
          if (err instanceof GatewayError && err.code === 'UNAUTHORIZED') {
            socket.disconnect(true);
          }
          continue;
        }
        for (const projectId of fresh.revoked) {
          if (!current.revoked.has(projectId)) this.revokeProject(socket, projectId);
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
    const now = Date.now();
    const timers: NodeJS.Timeout[] = [];
    const warnIn = Math.max(0, expiresAt - EXPIRY_WARNING_MS - now);
    if (warnIn < MAX_TIMER_MS) {
      timers.push(
        setTimeout(
          () => socket.emit('auth:expiring', { expiresAt: new Date(expiresAt).toISOString() }),
          warnIn,
        ),
      );
    }
    const closeIn = expiresAt - now;
    if (closeIn < MAX_TIMER_MS) {
      timers.push(setTimeout(() => socket.disconnect(true), Math.max(0, closeIn)));
    }
    this.timers.set(socket.id, timers);
  }

  private clearTimers(socket: GatewaySocket): void {
    for (const timer of this.timers.get(socket.id) ?? []) clearTimeout(timer);
    this.timers.delete(socket.id);
  }
}
