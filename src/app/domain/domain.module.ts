import { Module } from '@nestjs/common';
import { AgentsService } from './agents/agents.service.js';
import { DomainController } from './domain.controller.js';
import { DomainWrites } from './domain-writes.js';
import { ResourcesService } from './resources/resources.service.js';
import { TasksService } from './tasks/tasks.service.js';

/**
 * The example domain of our users' dashboards. Each service publishes every
 * change as a typed event through EventPublisher; the controller drives them over REST.
 */
@Module({
  controllers: [DomainController],
  providers: [DomainWrites, TasksService, AgentsService, ResourcesService],
  exports: [TasksService, AgentsService, ResourcesService],
})
export class DomainModule {}
