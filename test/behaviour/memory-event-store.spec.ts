import { MemoryEventStore } from '../../src/adapters/memory/memory-event-store.js';
import { describeEventStore } from './event-store.behaviour.js';

describeEventStore('in-memory', (limits) =>
  Promise.resolve({ store: new MemoryEventStore(limits), close: () => Promise.resolve() }),
);
