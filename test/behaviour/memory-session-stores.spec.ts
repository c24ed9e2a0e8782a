import { MemoryConnectionLimiter } from '../../src/adapters/memory/memory-connection-limiter.js';
import { memoryLimiters } from '../../src/adapters/memory/memory-rate-limiter.js';
import { MemoryRevocationStore } from '../../src/adapters/memory/memory-revocation-store.js';
import { MemoryTicketStore } from '../../src/adapters/memory/memory-ticket-store.js';
import { describeSessionStores } from './session-stores.behaviour.js';
import { MemoryPresenceLeases } from '../../src/adapters/memory/memory-presence-leases.js';

describeSessionStores('in-memory', {
  revocations: () => Promise.resolve(new MemoryRevocationStore(60_000)),
  tickets: () => Promise.resolve(new MemoryTicketStore()),
  connections: (leaseMs) => Promise.resolve(new MemoryConnectionLimiter(leaseMs)),
  limiters: () => Promise.resolve(memoryLimiters),
  presence: () => Promise.resolve(new MemoryPresenceLeases()),
});
