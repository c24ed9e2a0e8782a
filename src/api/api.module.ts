import { Module } from '@nestjs/common';
import { ProjectsController } from './projects.controller.js';
import { PublishController } from './publish.controller.js';

@Module({ controllers: [PublishController, ProjectsController] })
export class ApiModule {}
