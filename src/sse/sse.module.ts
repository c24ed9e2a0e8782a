import { Module } from '@nestjs/common';
import { REDIS_CONNECTIONS } from '../redis/redis.module.js';
import type { RedisConnections } from '../redis/redis-connections.js';
import { RedisKeys } from '../redis/keys.js';
import { GatewayModule } from '../gateway/gateway.module.js';
import { MemoryTicketStore } from './memory-ticket-store.js';
import { RedisTicketStore } from './redis-ticket-store.js';
import { SseController } from './sse.controller.js';
import { SseService } from './sse.service.js';
import { SSE_TICKET_STORE } from './sse-ticket.store.js';

/** Server-Sent Events and their tickets. */
@Module({
  imports: [GatewayModule],
  controllers: [SseController],
  providers: [
    SseService,
    {
      provide: SSE_TICKET_STORE,
      inject: [REDIS_CONNECTIONS, RedisKeys],
      useFactory: (redis: RedisConnections | null, keys: RedisKeys) =>
        redis ? new RedisTicketStore(redis.command, keys) : new MemoryTicketStore(),
    },
  ],
})
export class SseModule {}
