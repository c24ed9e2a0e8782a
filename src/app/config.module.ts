import { Global, Module, type DynamicModule } from '@nestjs/common';
import { LOGGER, type JsonLogger } from '../core/support/json-logger.js';
import { GatewayMetrics } from '../core/support/metrics.js';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';

/** Configuration (validated before Nest starts), the logger and metrics, for every module. */
@Global()
@Module({})
export class ConfigModule {
  static forRoot(config: AppConfig, logger: JsonLogger): DynamicModule {
    return {
      module: ConfigModule,
      providers: [
        { provide: APP_CONFIG, useValue: config },
        { provide: LOGGER, useValue: logger },
        { provide: GatewayMetrics, useValue: new GatewayMetrics() },
      ],
      exports: [APP_CONFIG, LOGGER, GatewayMetrics],
    };
  }
}
