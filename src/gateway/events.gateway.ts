import { Inject } from '@nestjs/common';
import {
  WebSocketGateway,
  type OnGatewayConnection,
  type OnGatewayDisconnect,
  type OnGatewayInit,
} from '@nestjs/websockets';
import { TokenVerifier } from '../auth/token-verifier.js';
import { canAccessProject } from '../auth/principal.js';
import { GatewayError } from '../common/errors.js';
import { LOGGER, type JsonLogger } from '../common/json-logger.js';
import { TokenBucket } from '../common/token-bucket.js';
import { validateDto } from '../common/validate-dto.js';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { GatewayMetrics } from '../ops/metrics.js';
import {
  LogsSubscribeDto,
  LogsUnsubscribeDto,
  SubscribeDto,
  UnsubscribeDto,
} from './dto/subscribe.dto.js';
import { handshakeAuth } from './handshake-auth.js';
import type { Failure, GatewayServer, GatewaySocket } from './socket-events.js';
import { DrainService } from './drain.service.js';
import { SubscriptionService } from './subscription.service.js';

/** `auth:expiring` goes out this long before a token's `exp`. */
const EXPIRY_WARNING_MS = 60_000;
/** setTimeout's ceiling; longer-lived tokens are re-checked when it fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The Socket.IO face of the gateway. Messages are routed by hand rather than
 * with @SubscribeMessage so each one is rate limited, validated and answered
 * with a coded ack, and so `subscribe` can send its ack before the events.
 */
@WebSocketGateway()
export class EventsGateway implements OnGatewayInit, OnGatewayConnection, OnGatewayDisconnect {
  private readonly timers = new Map<string, NodeJS.Timeout[]>();

  constructor(
    @Inject(SubscriptionService) private readonly subscriptions: SubscriptionService,
    @Inject(DrainService) private readonly drain: DrainService,
    @Inject(TokenVerifier) private readonly verifier: TokenVerifier,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(GatewayMetrics) private readonly metrics: GatewayMetrics,
    @Inject(LOGGER) private readonly logger: JsonLogger,
  ) {}

  afterInit(server: GatewayServer): void {
    server.use(handshakeAuth(this.verifier));
    this.subscriptions.attach(server);
    this.drain.attach(server);
    this.metrics.addCollector(() => {
      let timers = 0;
      for (const list of this.timers.values()) timers += list.length;
      this.metrics.internalObjects.set({ kind: 'socket_timers' }, timers);
      this.metrics.internalObjects.set({ kind: 'socket_timer_entries' }, this.timers.size);
    });
  }

  handleConnection(socket: GatewaySocket): void {
    this.metrics.connectedSockets.inc();
    const bucket = new TokenBucket(this.config.limits.messagesPerSecond);
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
          if (!bucket.take())
            throw new GatewayError('RATE_LIMITED', 'too many messages, slow down');
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
        return this.subscriptions.subscribe(socket, dto, ack);
      }),
    );
    socket.on(
      'unsubscribe',
      handle(UnsubscribeDto, (dto, ack: (r: { ok: true }) => void) => {
        this.subscriptions.unsubscribe(socket, { projectId: dto.projectId });
        ack({ ok: true });
      }),
    );
    socket.on(
      'logs:subscribe',
      handle(LogsSubscribeDto, (dto, ack) => {
        this.requireAccess(socket, dto.projectId);
        return this.subscriptions.subscribeLogs(socket, dto, ack);
      }),
    );
    socket.on(
      'logs:unsubscribe',
      handle(LogsUnsubscribeDto, (dto, ack: (r: { ok: true }) => void) => {
        this.subscriptions.unsubscribe(socket, { projectId: dto.projectId, runId: dto.runId });
        ack({ ok: true });
      }),
    );
    this.scheduleExpiry(socket);
  }

  handleDisconnect(socket: GatewaySocket): void {
    this.metrics.connectedSockets.dec();
    this.subscriptions.dropSocket(socket);
    for (const timer of this.timers.get(socket.id) ?? []) clearTimeout(timer);
    this.timers.delete(socket.id);
  }

  private requireAccess(socket: GatewaySocket, projectId: string): void {
    if (!canAccessProject(socket.data.principal, projectId)) {
      throw new GatewayError('FORBIDDEN', `no access to project ${projectId}`);
    }
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
}
