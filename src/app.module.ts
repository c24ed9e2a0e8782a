import { Module, type DynamicModule } from '@nestjs/common';
import { AdminModule } from './admin/admin.module.js';
import { ApiModule } from './api/api.module.js';
import { AuthModule } from './auth/auth.module.js';
import type { JsonLogger } from './common/json-logger.js';
import type { AppConfig } from './config/app-config.js';
import { ConfigModule } from './config/config.module.js';
import { DemoModule } from './demo/demo.module.js';
import { DomainModule } from './domain/domain.module.js';
import { EventsModule } from './events/events.module.js';
import { GatewayModule } from './gateway/gateway.module.js';
import { HistoryModule } from './history/history.module.js';
import { LimitsModule } from './limits/limits.module.js';
import { OpsModule } from './ops/ops.module.js';
import { RedisModule } from './redis/redis.module.js';
import { SseModule } from './sse/sse.module.js';

@Module({})
export class AppModule {
  static forRoot(config: AppConfig, logger: JsonLogger): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config, logger),
        RedisModule,
        HistoryModule,
        EventsModule,
        AuthModule,
        LimitsModule,
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
