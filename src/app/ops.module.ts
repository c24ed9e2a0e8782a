import { Module } from '@nestjs/common';
import { OpsController } from '../transports/http/ops.controller.js';

/** /healthz, /readyz, /metrics, /debug/heap. */
@Module({ controllers: [OpsController] })
export class OpsModule {}
