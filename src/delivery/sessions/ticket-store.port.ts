/** What a ticket stands for: a verified principal, for one project. */
export interface TicketGrant {
  sub: string;
  projectId: string;
  projects: '*' | string[];
  scopes: string[];
  /** The token's `exp` and `iat`, ms since the epoch. */
  expiresAt: number;
  issuedAt: number;
}

/**
 * Short-lived, single-use tickets for `EventSource`, which cannot send an
 * Authorization header: any replica can redeem one, once.
 */
export interface SseTicketStore {
  save(ticket: string, grant: TicketGrant, ttlMs: number): Promise<void>;
  /** The grant, removed in the same step; null when unknown, used or expired. */
  take(ticket: string): Promise<TicketGrant | null>;
}

export const SSE_TICKET_STORE = Symbol('SseTicketStore');
