import { Global, Module } from '@nestjs/common';
import { LOGGER, type JsonLogger } from '../common/json-logger.js';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { REDIS_CONNECTIONS } from '../redis/redis.module.js';
import type { RedisConnections } from '../redis/redis-connections.js';
import { RedisKeys } from '../redis/keys.js';
import { Authenticator } from './authenticator.js';
import { HttpAuthGuard } from './http-auth.guard.js';
import { CachedRevocationStore } from './revocation/cached-revocation-store.js';
import { MemoryRevocationStore } from './revocation/memory-revocation-store.js';
import { RedisRevocationStore } from './revocation/redis-revocation-store.js';
import { REVOCATION_STORE } from './revocation/revocation-store.port.js';
import { RevocationService } from './revocation/revocation.service.js';
import { TokenVerifier } from './token-verifier.js';

/** Tokens, revocations and the HTTP guard; `Authenticator` and `RevocationService` are the public face. */
@Global()
@Module({
  providers: [
    {
      provide: TokenVerifier,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => new TokenVerifier(config.jwt),
    },
    {
      provide: REVOCATION_STORE,
      inject: [APP_CONFIG, REDIS_CONNECTIONS, RedisKeys, LOGGER],
      useFactory: async (
        config: AppConfig,
        redis: RedisConnections | null,
        keys: RedisKeys,
        logger: JsonLogger,
      ) => {
        if (!redis) return new MemoryRevocationStore(config.revocationTtlSeconds * 1000);
        const store = new RedisRevocationStore(
          redis.command,
          redis.subscriber,
          keys,
          config.revocationTtlSeconds,
          (error) => logger.event('error', 'bad revocation message', { error }),
        );
        await store.listen();
        return new CachedRevocationStore(store);
      },
    },
    RevocationService,
    Authenticator,
    HttpAuthGuard,
  ],
  exports: [TokenVerifier, RevocationService, Authenticator, HttpAuthGuard],
})
export class AuthModule {}
