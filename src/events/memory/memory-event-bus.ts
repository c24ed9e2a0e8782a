import type { MemoryEventHistory } from '../../history/memory/memory-event-history.js';
import { BaseEventBus, type BusOptions } from '../base-event-bus.js';

/** Embedded-mode bus: one process, live events handed over by the memory history. */
export class MemoryEventBus extends BaseEventBus {
  constructor(history: MemoryEventHistory, options: BusOptions = {}) {
    super(history, options);
    // Delivered on a later tick, as a real network would: a publisher never
    // re-enters its own subscribers synchronously.
    history.setLiveListener((projectId, events) =>
      queueMicrotask(() => this.deliver(projectId, events)),
    );
  }

  protected listen(): Promise<void> {
    return Promise.resolve();
  }

  protected unlisten(): Promise<void> {
    return Promise.resolve();
  }
}
