import { Inject, Injectable } from '@nestjs/common';
import { LOGGER, type JsonLogger } from '../common/json-logger.js';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { Lifecycle } from '../ops/lifecycle.js';
import { GatewayMetrics } from '../ops/metrics.js';
import { closeConnection } from './connection.js';
import { planDrain } from './drain-plan.js';
import type { GatewayServer, GatewaySocket } from './socket-events.js';

/**
 * A graceful stop: readiness false and new connections refused at once, then
 * every viewer is told when it will be closed (`server:draining`) and closed
 * in batches spread over the drain window. Closing the transport (rather than
 * a server-side disconnect) lets clients reconnect by themselves, elsewhere,
 * and resume with `since`.
 */
@Injectable()
export class DrainService {
  private server: GatewayServer | null = null;

  constructor(
    @Inject(Lifecycle) private readonly lifecycle: Lifecycle,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(GatewayMetrics) private readonly metrics: GatewayMetrics,
    @Inject(LOGGER) private readonly logger: JsonLogger,
  ) {}

  attach(server: GatewayServer): void {
    this.server = server;
  }

  /** Resolves once every connection is closed (or the window is over). */
  async drain(): Promise<void> {
    this.lifecycle.draining = true;
    this.metrics.draining.set(1);
    const sockets = [...(this.server?.of('/').sockets.values() ?? [])];
    const windowMs = this.config.drainWindowMs;
    const delays = planDrain(sockets.length, windowMs);
    this.logger.event('info', 'draining', { sockets: sockets.length, windowMs });
    const batches = new Map<number, GatewaySocket[]>();
    sockets.forEach((socket, i) => {
      socket.emit('server:draining', { reconnectInMs: delays[i] });
      const batch = batches.get(delays[i]) ?? [];
      batch.push(socket);
      batches.set(delays[i], batch);
    });
    await Promise.all(
      [...batches].map(
        ([delay, batch]) =>
          new Promise<void>((resolve) =>
            setTimeout(() => {
              for (const socket of batch) closeConnection(socket, 'graceful');
              resolve();
            }, delay),
          ),
      ),
    );
    // Connections that completed their handshake after the list was taken.
    for (const socket of this.server?.of('/').sockets.values() ?? []) {
      closeConnection(socket, 'graceful');
    }
    this.logger.event('info', 'drained', { sockets: sockets.length });
  }
}
