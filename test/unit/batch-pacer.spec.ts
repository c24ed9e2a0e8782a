import { BatchPacer, IDLE_WINDOW_MS } from '../../src/delivery/batch-pacer.js';

describe('BatchPacer: the live batch window follows event-loop load', () => {
  const settle = (pacer: BatchPacer, utilization: number) => {
    for (let i = 0; i < 20; i++) pacer.observe(utilization);
    return pacer.windowMs;
  };

  it('starts at the idle window and stays there while the loop is calm', () => {
    const pacer = new BatchPacer(25);
    expect(pacer.windowMs).toBe(IDLE_WINDOW_MS);
    expect(settle(pacer, 0.05)).toBe(IDLE_WINDOW_MS);
  });

  it('widens with load up to the configured bound, never past it', () => {
    const pacer = new BatchPacer(25);
    const windows = [0.15, 0.3, 0.45, 0.6, 1].map((u) => settle(pacer, u));
    expect(windows).toEqual([...windows].sort((a, b) => a - b));
    expect(windows[0]).toBeGreaterThan(IDLE_WINDOW_MS);
    expect(windows[1]).toBeLessThan(25);
    expect(windows.at(-1)).toBe(25);
    expect(settle(pacer, 5)).toBe(25);
  });

  it('narrows again when the load goes away', () => {
    const pacer = new BatchPacer(40);
    expect(settle(pacer, 1)).toBe(40);
    expect(settle(pacer, 0)).toBe(IDLE_WINDOW_MS);
  });

  it('holds a configured idle window while calm (BATCH_WINDOW_MIN_MS), never past the bound', () => {
    const pacer = new BatchPacer(50, 20);
    expect(pacer.windowMs).toBe(20);
    expect(settle(pacer, 0)).toBe(20);
    expect(settle(pacer, 1)).toBe(50);
    expect(settle(new BatchPacer(10, 20), 0)).toBe(10);
  });

  it('smooths a single busy reading instead of jumping to the bound', () => {
    const pacer = new BatchPacer(25);
    pacer.observe(1);
    expect(pacer.windowMs).toBeLessThan(25);
  });

  it('never exceeds a bound below the idle window (BATCH_WINDOW_MS=0 sends at once)', () => {
    expect(settle(new BatchPacer(0), 1)).toBe(0);
    expect(settle(new BatchPacer(1), 0)).toBe(1);
  });

  it('samples utilization on a timer once started, and stops', async () => {
    const readings = [0.95, 0.95, 0.95, 0.95, 0.95, 0.95];
    const sampled = new Promise<void>((resolve) => {
      const pacer = new BatchPacer(25, IDLE_WINDOW_MS, () => {
        const utilization = readings.shift() ?? 0.95;
        if (readings.length === 0) {
          pacer.stop();
          resolve();
        }
        return { idle: 0, active: 0, utilization };
      });
      pacer.start();
    });
    await sampled;
    expect(readings).toHaveLength(0);
  });
});
