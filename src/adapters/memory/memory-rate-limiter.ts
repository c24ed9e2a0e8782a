import { RateLimiterMemory } from 'rate-limiter-flexible';
import type { LimiterFactory } from '../../delivery/sessions/rate-limits.js';

/** Embedded mode: one process, one memory. */
export const memoryLimiters: LimiterFactory = (kind, points, duration) =>
  new RateLimiterMemory({ points, duration, keyPrefix: kind });
