import type { RedisCommandClient as Redis } from './lua-script.js';
import type { RedisKeys } from './keys.js';
import { withRedis } from './redis-errors.js';
import type { SseTicketStore, TicketGrant } from '../../delivery/sessions/ticket-store.port.js';

/** Tickets as Redis strings with a TTL; GETDEL makes redemption single-use across replicas. */
export class RedisTicketStore implements SseTicketStore {
  constructor(
    private readonly client: Redis,
    private readonly keys: RedisKeys,
  ) {}

  async save(ticket: string, grant: TicketGrant, ttlMs: number): Promise<void> {
    await withRedis(() =>
      this.client.set(this.keys.sseTicket(ticket), JSON.stringify(grant), 'PX', ttlMs),
    );
  }

  async take(ticket: string): Promise<TicketGrant | null> {
    const raw = await withRedis(() => this.client.getdel(this.keys.sseTicket(ticket)));
    return raw === null ? null : (JSON.parse(raw) as TicketGrant);
  }
}
