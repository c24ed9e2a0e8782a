import { Inject, Injectable } from '@nestjs/common';
import type { EventEnvelope } from '../../events/envelope.js';
import { EVENT_BUS, type EventBus } from '../../events/event-bus.port.js';

export interface ResourceSample {
  host: string;
  cpuPercent: number;
  memoryPercent: number;
  queueDepth?: number;
}

/** System resource samples, published as they are taken. */
@Injectable()
export class ResourcesService {
  constructor(@Inject(EVENT_BUS) private readonly bus: EventBus) {}

  record(projectId: string, sample: ResourceSample): Promise<EventEnvelope> {
    return this.bus.publish({ type: 'system.resource.sampled', projectId, data: sample });
  }
}
