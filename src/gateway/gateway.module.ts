import { Module } from '@nestjs/common';
import { DrainService } from './drain.service.js';
import { EventsGateway } from './events.gateway.js';
import { SubscriptionService } from './subscription.service.js';

@Module({
  providers: [SubscriptionService, DrainService, EventsGateway],
  exports: [SubscriptionService, DrainService],
})
export class GatewayModule {}
