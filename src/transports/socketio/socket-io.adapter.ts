import { engineSessions } from '../../internals/engine-io.js';
import type { INestApplicationContext } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { createShardedAdapter } from '@socket.io/redis-adapter';
import type { IncomingMessage } from 'node:http';
import { createClient, createCluster, type RedisClientType, type RedisClusterType } from 'redis';

import type { Server, ServerOptions, Socket } from 'socket.io';
import type { MessageMappingProperties } from '@nestjs/websockets';
import type { Observable } from 'rxjs';
import type { AppConfig } from '../../config/app-config.js';
import type { JsonLogger } from '../../core/support/json-logger.js';
import type { Lifecycle } from '../../delivery/sessions/lifecycle.js';
import { clientAddressResolver } from '../http/client-address.js';
import type { RateLimits } from '../../delivery/sessions/rate-limits.js';
import { connectionGate, type GateRefusal } from '../http/connection-gate.js';
import type { FrontDoor } from '../http/front-door.js';
import { DeflateWebSocketServer } from './event-frames.js';

/** The adapter's node-redis pair: standalone or cluster (sharded pub/sub works on both). */
type AdapterClient = RedisClientType | RedisClusterType;

/**
 * Socket.IO for Nest: the Redis adapter (sharded pub/sub on Redis 7) for what
 * crosses replicas at the socket level, connected before the server listens
 * and closed on shutdown; browser Origins checked before the upgrade.
 *
 * The adapter uses node-redis: ioredis does not emit the `smessageBuffer`
 * events the sharded adapter listens to.
 */
export class GatewayIoAdapter extends IoAdapter {
  private clients: AdapterClient[] = [];
  private adapterFactory: ReturnType<typeof createShardedAdapter> | null = null;

  constructor(
    app: INestApplicationContext,
    private readonly gatewayConfig: AppConfig,
    private readonly log: JsonLogger,
    private readonly lifecycle: Lifecycle,
    private readonly rateLimits: RateLimits,
    /** Where the connection gate goes: ahead of Engine.IO. */
    private readonly frontDoor: FrontDoor,
  ) {
    super(app);
  }

  /** Connects the adapter's Redis pair; call before `app.listen`. */
  async connect(): Promise<void> {
    const { redisUrl, redisClusterNodes } = this.gatewayConfig;
    if (!redisUrl && !redisClusterNodes) return;
    // pingInterval: a silently dead adapter connection is noticed and reconnected.
    const pingInterval = this.gatewayConfig.redis.heartbeatMs * 5;
    const pub: AdapterClient = redisClusterNodes
      ? createCluster({
          rootNodes: redisClusterNodes.map(({ host, port }) => ({
            url: `redis://${host}:${port}`,
          })),
          defaults: { pingInterval },
        })
      : createClient({ url: redisUrl!, pingInterval });
    const sub = pub.duplicate();
    for (const [role, client] of [
      ['adapter-pub', pub],
      ['adapter-sub', sub],
    ] as const) {
      client.on('error', (err: Error) =>
        this.log.event('warn', 'redis error', { role, error: err.message }),
      );
    }
    await Promise.all([pub.connect(), sub.connect()]);
    this.clients = [pub, sub];
    const key = `${this.gatewayConfig.redisKeyPrefix}-sio`;
    // Static: project rooms are only ever emitted to locally (io.local), so the
    // adapter needs no Redis channel per room, which keeps joins free of Redis.
    this.adapterFactory = createShardedAdapter(pub, sub, {
      channelPrefix: key,
      subscriptionMode: 'static',
    });
  }

  /**
   * The gateway registers its socket handlers itself (validated, rate limited,
   * coded acks), so Nest has none to bind; left to it, Nest would still build
   * and keep an rxjs disconnect observable for every socket for its lifetime.
   */
  override bindMessageHandlers(
    socket: Socket,
    handlers: MessageMappingProperties[],
    transform: (data: unknown) => Observable<unknown>,
  ): void {
    if (handlers.length > 0) super.bindMessageHandlers(socket, handlers, transform);
  }

  override createIOServer(port: number, options?: ServerOptions): Server {
    const allowed = new Set([
      ...this.gatewayConfig.corsOrigins,
      ...this.gatewayConfig.publicOrigins,
    ]);
    const server = super.createIOServer(port, {
      ...options,
      path: '/socket.io/',
      maxHttpBufferSize: this.gatewayConfig.socket.maxMessageBytes,
      // Negotiates permessage-deflate for the once-per-batch compressed `events` frames.
      wsEngine: DeflateWebSocketServer,
      connectTimeout: this.gatewayConfig.socket.connectTimeoutMs,
      cors: { origin: [...allowed], credentials: false },
      // A browser request carries Origin; tools and servers do not and are judged by token alone.
      allowRequest: (
        req: IncomingMessage,
        callback: (err: string | null | undefined, ok: boolean) => void,
      ) => {
        const origin = req.headers.origin;
        // Never judged from Host: a rebound DNS name sends a matching Host and Origin.
        if (origin !== undefined && !allowed.has(origin))
          return callback('origin not allowed', false);
        callback(null, true);
      },
    } as ServerOptions);
    if (this.adapterFactory) server.adapter(this.adapterFactory);
    const addressOf = clientAddressResolver(this.gatewayConfig.trustedProxies);
    this.frontDoor.add(
      connectionGate(
        '/socket.io/',
        async (req) => {
          if (this.lifecycle.draining) {
            return refusal(
              503,
              'UNAVAILABLE',
              'this replica is draining; connect to another one',
              1,
            );
          }
          const limit = await this.rateLimits.handshake(addressOf(req));
          if (!limit.ok) {
            return refusal(
              429,
              'RATE_LIMITED',
              'too many connection attempts',
              limit.retryAfterSeconds,
            );
          }
          return null;
        },
        (sid) => Object.hasOwn(engineSessions(server), sid),
      ),
    );
    return server;
  }

  override async close(server: Server): Promise<void> {
    await super.close(server);
    await Promise.allSettled(this.clients.map((c) => c.close()));
    this.clients = [];
  }
}

function refusal(
  status: GateRefusal['status'],
  code: GateRefusal['code'],
  message: string,
  retryAfterSeconds: number,
): GateRefusal {
  return { status, code, message, retryAfterSeconds };
}
