import { MemoryEventBus } from '../../src/events/memory/memory-event-bus.js';
import { MemoryEventHistory } from '../../src/history/memory/memory-event-history.js';
import { describeEventStore } from './event-store.behaviour.js';

describeEventStore('in-memory', (limits) => {
  const history = new MemoryEventHistory(limits);
  const bus = new MemoryEventBus(history);
  return Promise.resolve({ bus, history, close: () => Promise.resolve() });
});
