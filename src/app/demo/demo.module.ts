import { Module, type DynamicModule } from '@nestjs/common';
import { DomainModule } from '../domain/domain.module.js';
import { DemoController } from './demo.controller.js';
import { DemoSimulator } from './simulator.js';

/** With DEMO=1, a development session for the dashboard, and (unless DEMO_SIMULATOR=0) the simulator. */
@Module({})
export class DemoModule {
  static forRoot(simulate: boolean): DynamicModule {
    return {
      module: DemoModule,
      imports: [DomainModule],
      controllers: [DemoController],
      providers: simulate ? [DemoSimulator] : [],
    };
  }
}
