import type { SseTicketStore, TicketGrant } from '../../delivery/sessions/ticket-store.port.js';

/** Embedded mode: tickets in memory, swept as they are redeemed or looked up. */
export class MemoryTicketStore implements SseTicketStore {
  private readonly tickets = new Map<string, { grant: TicketGrant; expires: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  save(ticket: string, grant: TicketGrant, ttlMs: number): Promise<void> {
    const now = this.now();
    for (const [key, entry] of this.tickets) if (entry.expires <= now) this.tickets.delete(key);
    this.tickets.set(ticket, { grant, expires: now + ttlMs });
    return Promise.resolve();
  }

  take(ticket: string): Promise<TicketGrant | null> {
    const entry = this.tickets.get(ticket);
    this.tickets.delete(ticket);
    if (!entry || entry.expires <= this.now()) return Promise.resolve(null);
    return Promise.resolve(entry.grant);
  }
}
