import { Global, Module } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { HttpAuthGuard } from './http-auth.guard.js';
import { TokenVerifier } from './token-verifier.js';

@Global()
@Module({
  providers: [
    {
      provide: TokenVerifier,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => new TokenVerifier(config.jwt),
    },
    HttpAuthGuard,
  ],
  exports: [TokenVerifier, HttpAuthGuard],
})
export class AuthModule {}
