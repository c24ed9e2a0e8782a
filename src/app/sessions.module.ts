import { Global, Module } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { LOGGER, type JsonLogger } from '../core/support/json-logger.js';
import { Authenticator } from '../delivery/auth/authenticator.js';
import { TokenVerifier } from '../delivery/auth/token-verifier.js';
import {
  CONNECTION_LIMITER,
  type ConnectionLimiter,
} from '../delivery/sessions/connection-limiter.port.js';
import { ConnectionLeases } from '../delivery/sessions/connection-leases.service.js';
import { Lifecycle } from '../delivery/sessions/lifecycle.js';
import {
  REVOCATION_STORE,
  type RevocationStore,
} from '../delivery/sessions/revocation-store.port.js';
import { RevocationService } from '../delivery/sessions/revocation.service.js';
import { Sessions } from '../delivery/sessions/sessions.js';
import { GatewayMetrics } from '../core/support/metrics.js';
import { HttpAuthGuard } from '../transports/http/http-auth.guard.js';

/** `auth:expiring` goes out this long before a token's `exp`. */
const EXPIRY_WARNING_MS = 60_000;

/**
 * What every transport's sessions share: tokens in (`Authenticator`),
 * revocations, per-user connection slots, and the session rules (expiry,
 * revocation, drain) applied to every live connection.
 */
@Global()
@Module({
  providers: [
    {
      provide: TokenVerifier,
      inject: [APP_CONFIG, GatewayMetrics],
      useFactory: (config: AppConfig, metrics: GatewayMetrics) => {
        const verifier = new TokenVerifier(config.jwt);
        metrics.countInternal(() => ({ token_cache: verifier.cachedTokens }));
        return verifier;
      },
    },
    {
      provide: RevocationService,
      inject: [REVOCATION_STORE],
      useFactory: (store: RevocationStore) => new RevocationService(store),
    },
    {
      provide: Authenticator,
      inject: [TokenVerifier, RevocationService],
      useFactory: (verifier: TokenVerifier, revocations: RevocationService) =>
        new Authenticator(verifier, revocations),
    },
    {
      provide: ConnectionLeases,
      inject: [CONNECTION_LIMITER, APP_CONFIG, LOGGER],
      useFactory: (limiter: ConnectionLimiter, config: AppConfig, logger: JsonLogger) =>
        new ConnectionLeases(limiter, config, logger),
    },
    { provide: Lifecycle, useValue: new Lifecycle() },
    {
      provide: Sessions,
      inject: [RevocationService, Lifecycle, APP_CONFIG, GatewayMetrics, LOGGER],
      useFactory: (
        revocations: RevocationService,
        lifecycle: Lifecycle,
        config: AppConfig,
        metrics: GatewayMetrics,
        logger: JsonLogger,
      ) =>
        new Sessions(
          revocations,
          lifecycle,
          { warnBeforeMs: EXPIRY_WARNING_MS, drainWindowMs: config.drainWindowMs },
          metrics,
          logger,
        ),
    },
    HttpAuthGuard,
  ],
  exports: [
    TokenVerifier,
    RevocationService,
    Authenticator,
    ConnectionLeases,
    Lifecycle,
    Sessions,
    HttpAuthGuard,
  ],
})
export class SessionsModule {}
