/** Process-wide state that readiness and the socket layer share. */
export class Lifecycle {
  /** True once SIGTERM was received: readiness false, new connections refused. */
  draining = false;
}

/** Whether the stores answer: `embedded` (in memory, always), `ready` or `down` (Redis). */
export type StoreStatus = 'embedded' | 'ready' | 'down';

/** What readiness asks of the stores. */
export interface StoreHealth {
  status(): StoreStatus;
}

export const STORE_HEALTH = Symbol('StoreHealth');
