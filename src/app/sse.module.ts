import { Module } from '@nestjs/common';
import { GatewayModule } from './gateway.module.js';
import { SseController } from '../transports/sse/sse.controller.js';
import { SseService } from '../transports/sse/sse.service.js';

/** Server-Sent Events and their tickets. */
@Module({
  imports: [GatewayModule],
  controllers: [SseController],
  providers: [SseService],
})
export class SseModule {}
