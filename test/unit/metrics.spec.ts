import { Counter, Registry } from 'prom-client';
import { countByType } from '../../src/core/support/metrics.js';

describe('counting events by type', () => {
  it('adds each type once per event, times the given factor', async () => {
    const registry = new Registry();
    const counter = new Counter({
      name: 'test_events_total',
      help: 'test',
      labelNames: ['type'] as const,
      registers: [registry],
    });
    countByType(counter, [{ type: 'a.b.c' }, { type: 'x.y.z' }, { type: 'a.b.c' }], 3);
    countByType(counter, [{ type: 'a.b.c' }]);
    countByType(counter, []);
    const values = (await counter.get()).values.map((v) => [v.labels.type, v.value]);
    expect(values.sort()).toEqual([
      ['a.b.c', 7],
      ['x.y.z', 3],
    ]);
  });
});
