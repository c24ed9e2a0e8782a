import { Module, type DynamicModule } from '@nestjs/common';
import { DomainModule } from '../domain/domain.module.js';
import { DemoController } from './demo.controller.js';
import { DemoSimulator } from './simulator.js';

/** The page at `/`; with DEMO=1 also the simulator and a development session. */
@Module({})
export class DemoModule {
  static forRoot(demo: boolean): DynamicModule {
    return {
      module: DemoModule,
      imports: [DomainModule],
      controllers: [DemoController],
      providers: demo ? [DemoSimulator] : [],
    };
  }
}
