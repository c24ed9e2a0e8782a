import { Inject, Injectable } from '@nestjs/common';
import type { EventEnvelope } from '../../../core/envelope.js';
import { EventPublisher } from '../../../core/publisher.js';

export interface ResourceSample {
  host: string;
  cpuPercent: number;
  memoryPercent: number;
  queueDepth?: number;
}

/** System resource samples, published as they are taken. */
@Injectable()
export class ResourcesService {
  constructor(@Inject(EventPublisher) private readonly bus: EventPublisher) {}

  record(projectId: string, sample: ResourceSample): Promise<EventEnvelope> {
    return this.bus.publish({ type: 'system.resource.sampled', projectId, data: sample });
  }
}
