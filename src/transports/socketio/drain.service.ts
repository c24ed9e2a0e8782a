import { Inject, Injectable } from '@nestjs/common';
import { LOGGER, type JsonLogger } from '../../core/support/json-logger.js';
import { APP_CONFIG, type AppConfig } from '../../config/app-config.js';
import { Lifecycle } from '../../delivery/sessions/lifecycle.js';
import { GatewayMetrics } from '../../core/support/metrics.js';
import { closeConnection } from './connection.js';
import { planDrain } from '../../delivery/drain-plan.js';
import type { GatewayServer } from './socket-events.js';

/** A connection a drain closes: told when, then closed so the client reconnects elsewhere. */
export interface DrainTarget {
  notifyDraining(reconnectInMs: number): void;
  close(): void;
}

/**
 * A graceful stop: readiness false and new connections refused at once, then
 * every viewer is told when it will be closed (`server:draining`) and closed
 * in batches spread over the drain window. Closing the transport (rather than
 * a server-side disconnect) lets clients reconnect by themselves, elsewhere,
 * and resume with `since`.
 */
@Injectable()
export class DrainService {
  private readonly sources: (() => DrainTarget[])[] = [];

  constructor(
    @Inject(Lifecycle) private readonly lifecycle: Lifecycle,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(GatewayMetrics) private readonly metrics: GatewayMetrics,
    @Inject(LOGGER) private readonly logger: JsonLogger,
  ) {}

  attach(server: GatewayServer): void {
    this.addSource(() =>
      [...server.of('/').sockets.values()].map((socket) => ({
        notifyDraining: (reconnectInMs) => socket.emit('server:draining', { reconnectInMs }),
        close: () => closeConnection(socket, 'graceful'),
      })),
    );
  }

  /** Other kinds of connections (SSE streams) to drain with the sockets. */
  addSource(list: () => DrainTarget[]): void {
    this.sources.push(list);
  }

  /** Resolves once every connection is closed (or the window is over). */
  async drain(): Promise<void> {
    this.lifecycle.draining = true;
    this.metrics.draining.set(1);
    const targets = this.sources.flatMap((list) => list());
    const windowMs = this.config.drainWindowMs;
    const delays = planDrain(targets.length, windowMs);
    this.logger.event('info', 'draining', { connections: targets.length, windowMs });
    const batches = new Map<number, DrainTarget[]>();
    targets.forEach((target, i) => {
      target.notifyDraining(delays[i]);
      const batch = batches.get(delays[i]) ?? [];
      batch.push(target);
      batches.set(delays[i], batch);
    });
    await Promise.all(
      [...batches].map(
        ([delay, batch]) =>
          new Promise<void>((resolve) =>
            setTimeout(() => {
              for (const target of batch) target.close();
              resolve();
            }, delay),
          ),
      ),
    );
    // Connections that completed their handshake after the list was taken.
    for (const target of this.sources.flatMap((list) => list())) target.close();
    this.logger.event('info', 'drained', { connections: targets.length });
  }
}
