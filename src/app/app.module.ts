import { Module, type DynamicModule } from '@nestjs/common';
import { AdminModule } from './admin.module.js';
import { ApiModule } from './api.module.js';
import type { JsonLogger } from '../core/support/json-logger.js';
import type { AppConfig } from '../config/app-config.js';
import { ConfigModule } from './config.module.js';
import { DemoModule } from './demo/demo.module.js';
import { DomainModule } from './domain/domain.module.js';
import { GatewayModule } from './gateway.module.js';
import { OpsModule } from './ops.module.js';
import { SessionsModule } from './sessions.module.js';
import { StoresModule } from './stores.module.js';
import { SseModule } from './sse.module.js';

@Module({})
export class AppModule {
  static forRoot(config: AppConfig, logger: JsonLogger): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config, logger),
        StoresModule,
        SessionsModule,
        OpsModule,
        GatewayModule,
        ApiModule,
        AdminModule,
        SseModule,
        DomainModule,
        DemoModule.forRoot(config.demoSimulator),
      ],
    };
  }
}
