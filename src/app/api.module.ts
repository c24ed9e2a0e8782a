import { Module } from '@nestjs/common';
import { ProjectsController } from '../transports/http/projects.controller.js';
import { PublishEndpoint } from '../transports/http/publish-endpoint.js';

/** The HTTP API: history and snapshots (Nest routes), and the publish endpoint (mounted in main). */
@Module({
  controllers: [ProjectsController],
  providers: [PublishEndpoint],
  exports: [PublishEndpoint],
})
export class ApiModule {}
