import { Inject, Injectable } from '@nestjs/common';
import type { WriteOutcome } from '../../../core/idempotency.js';
import { DomainWrites, type WriteOptions } from '../domain-writes.js';

export interface ResourceSample {
  host: string;
  cpuPercent: number;
  memoryPercent: number;
  queueDepth?: number;
}

/** System resource samples, published as they are taken. */
@Injectable()
export class ResourcesService {
  constructor(@Inject(DomainWrites) private readonly writes: DomainWrites) {}

  /** A sample depends on no earlier state: it reads nothing (If-Match still applies to its host). */
  record(
    projectId: string,
    sample: ResourceSample,
    options: WriteOptions = {},
  ): Promise<WriteOutcome<{ host: string }>> {
    const key = `host:${sample.host}`;
    return this.writes.write(projectId, key, options, async (reads) => {
      if (options.expectedVersion !== undefined) await reads.entities([key]);
      return {
        events: [{ type: 'system.resource.sampled', projectId, data: sample }],
        answer: { host: sample.host },
      };
    });
  }
}
