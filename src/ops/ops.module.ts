import { Global, Module } from '@nestjs/common';
import { Lifecycle } from './lifecycle.js';
import { OpsController } from './ops.controller.js';

@Global()
@Module({
  controllers: [OpsController],
  providers: [{ provide: Lifecycle, useValue: new Lifecycle() }],
  exports: [Lifecycle],
})
export class OpsModule {}
