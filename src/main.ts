import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import helmet from 'helmet';
import { fileURLToPath } from 'node:url';
import type { Server as HttpServer } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import { AppModule } from './app/app.module.js';
import { HttpErrorFilter, sendHttpError } from './transports/http/http-exception.filter.js';
import { MAX_BODY_BYTES } from './transports/http/json-body.js';
import { FrontDoor } from './transports/http/front-door.js';
import { PublishEndpoint } from './transports/http/publish-endpoint.js';
import { signDevToken } from './delivery/auth/dev-token.js';
import { JsonLogger } from './core/support/json-logger.js';
import { ConfigError, loadConfig } from './config/load-config.js';
import { DEMO_OPERATOR } from './app/demo/simulator.js';
import { Sessions } from './delivery/sessions/sessions.js';
import { GatewayIoAdapter } from './transports/socketio/socket-io.adapter.js';
import { RateLimits } from './delivery/sessions/rate-limits.js';
import { Lifecycle } from './delivery/sessions/lifecycle.js';

/** Built by vite next to the compiled server. */
const DASHBOARD_DIR = fileURLToPath(new URL('./dashboard', import.meta.url));

async function bootstrap(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
  const logger = new JsonLogger(config.logLevel, { service: 'gateway', pid: process.pid });
  process.on('unhandledRejection', (error) =>
    logger.event('error', 'unhandled rejection', { error }),
  );

  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config, logger), {
    logger,
    bodyParser: false,
  });
  const http: HttpServer = app.getHttpServer();
  http.keepAliveTimeout = config.keepAliveMs;
  // Headers of a request on a kept-alive connection may take as long to come.
  http.headersTimeout = config.keepAliveMs + 1000;
  // The dashboard is bundled: scripts only from here; its socket connects back here.
  const securityHeaders = helmet({
    contentSecurityPolicy: { directives: { 'connect-src': ["'self'", 'ws:', 'wss:'] } },
  });
  // Routes answered ahead of Express and Engine.IO: the hot publish route (see
  // PublishEndpoint) and, added by the Socket.IO adapter, the connection gate.
  const frontDoor = new FrontDoor(securityHeaders);
  frontDoor.add(app.get(PublishEndpoint).route);
  app.set('trust proxy', config.trustedProxies.length > 0 ? config.trustedProxies : false);
  app.disable('x-powered-by');
  app.use(express.json({ limit: MAX_BODY_BYTES, strict: false }));
  // Body parser failures get the same coded body as everything else.
  app.use((err: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (!err) return next();
    sendHttpError(res, err);
  });
  app.useGlobalFilters(new HttpErrorFilter(logger));
  app.enableCors({
    origin: config.corsOrigins,
    credentials: false,
    // A browser may send a write's precondition and key, and read the version it gets back.
    allowedHeaders: [
      'Authorization',
      'Content-Type',
      'If-Match',
      'If-None-Match',
      'Idempotency-Key',
    ],
    exposedHeaders: ['ETag', 'Idempotent-Replayed', 'Retry-After'],
  });
  app.use(securityHeaders);
  // The built dashboard (vite, `npm run build`) at `/`.
  app.useStaticAssets(DASHBOARD_DIR, {
    index: 'index.html',
    // Hashed asset names change with each build; the page itself must not be cached.
    setHeaders: (res: Response, path: string) => {
      res.setHeader(
        'Cache-Control',
        path.endsWith('.html') ? 'no-cache' : 'public, max-age=31536000, immutable',
      );
    },
  });

  const ioAdapter = new GatewayIoAdapter(
    app,
    config,
    logger,
    app.get(Lifecycle),
    app.get(RateLimits),
    frontDoor,
  );
  await ioAdapter.connect();
  app.useWebSocketAdapter(ioAdapter);
  // Express and Engine.IO attach their listeners during init; the front door then takes them over, once.
  await app.init();
  frontDoor.install(http);

  // Ctrl+C in development: stop at once, no drain.
  process.once('SIGINT', () => {
    void app.close().then(() => process.exit(0));
  });
  // Not Nest's shutdown hooks: they would close the app (and re-raise the
  // signal) before the drain is over.
  process.once('SIGTERM', () => {
    logger.event('info', 'SIGTERM: draining, then exiting', { windowMs: config.drainWindowMs });
    // Whatever happens below, the process is gone shortly after the window.
    setTimeout(() => {
      logger.event('warn', 'drain overran its window; exiting');
      process.exit(0);
    }, config.drainWindowMs + 1000).unref();
    app
      .get(Sessions)
      .drain()
      .then(() => app.close())
      .then(
        () => process.exit(0),
        (error: unknown) => {
          logger.event('error', 'shutdown failed', { error });
          process.exit(1);
        },
      );
  });

  await app.listen(config.port, config.host);
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const url = `http://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${port}`;
  if (config.demo) {
    const token = await signDevToken(config.jwt, DEMO_OPERATOR);
    process.stdout.write(
      `\n  Live demo dashboard: ${url}/\n` +
        `  Development operator token (dev only, ${config.jwt.generated ? 'generated secret' : 'JWT_SECRET'}):\n  ${token}\n\n`,
    );
  }
  logger.event('info', 'listening', {
    url,
    port,
    mode: config.redisClusterNodes ? 'redis-cluster' : config.redisUrl ? 'redis' : 'embedded',
    demo: config.demo,
  });
}

bootstrap().catch((err: unknown) => {
  process.stderr.write(
    `failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
});
