import { Module } from '@nestjs/common';
import { AdminController } from '../transports/http/admin.controller.js';

@Module({ controllers: [AdminController] })
export class AdminModule {}
