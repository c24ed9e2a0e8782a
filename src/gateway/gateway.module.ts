import { Module } from '@nestjs/common';
import { EventsGateway } from './events.gateway.js';
import { SubscriptionService } from './subscription.service.js';

@Module({
  providers: [SubscriptionService, EventsGateway],
  exports: [SubscriptionService],
})
export class GatewayModule {}
