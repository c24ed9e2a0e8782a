import { DeadlineWheel } from '../../src/core/support/deadline-wheel.js';

describe('deadline wheel', () => {
  let now = 1_000_000;
  let fired: string[] = [];
  let wheel: DeadlineWheel<string>;
  beforeEach(() => {
    now = 1_000_000;
    fired = [];
    wheel = new DeadlineWheel(
      (item) => fired.push(item),
      250,
      () => now,
    );
  });
  afterEach(() => wheel.stop());
  const advance = (ms: number) => {
    now += ms;
    wheel.tick();
  };

  it('hands each item over once its deadline has passed, at most one tick late, in deadline order', () => {
    wheel.add('b', now + 600);
    wheel.add('a', now + 100);
    wheel.add('c', now + 5_000);
    advance(99);
    expect(fired).toEqual([]);
    advance(151); // 250 ms: past a's deadline, within a tick of it
    expect(fired).toEqual(['a']);
    advance(500); // 750 ms
    expect(fired).toEqual(['a', 'b']);
    advance(10_000);
    expect(fired).toEqual(['a', 'b', 'c']);
    expect(wheel.size).toBe(0);
  });

  it('never fires early', () => {
    for (let offset = 1; offset <= 1_000; offset += 37) wheel.add(`i${offset}`, now + offset);
    const deadlines = new Map<string, number>();
    for (let offset = 1; offset <= 1_000; offset += 37)
      deadlines.set(`i${offset}`, 1_000_000 + offset);
    while (wheel.size > 0) {
      const before = fired.length;
      advance(50);
      for (const item of fired.slice(before)) {
        expect(now).toBeGreaterThanOrEqual(deadlines.get(item)!);
        expect(now - deadlines.get(item)!).toBeLessThanOrEqual(250 + 50);
      }
    }
    expect(fired).toHaveLength(deadlines.size);
  });

  it('fires a deadline already past on the next tick', () => {
    wheel.add('late', now - 10_000);
    advance(250);
    expect(fired).toEqual(['late']);
  });

  it('forgets cancelled items, and counts what waits', () => {
    const slotA = wheel.add('a', now + 100);
    wheel.add('b', now + 100);
    expect(wheel.size).toBe(2);
    wheel.cancel('a', slotA);
    wheel.cancel('a', slotA); // twice is harmless
    expect(wheel.size).toBe(1);
    advance(1_000);
    expect(fired).toEqual(['b']);
    wheel.cancel('b', slotA); // already fired: nothing
    expect(wheel.size).toBe(0);
  });

  it('fires on its own timer', async () => {
    let real!: DeadlineWheel<string>;
    const due = new Promise<void>((resolve) => {
      real = new DeadlineWheel<string>((item) => {
        fired.push(item);
        resolve();
      }, 10);
    });
    real.add('y', Date.now() + 20);
    await due;
    expect(fired).toContain('y');
    real.stop();
  });
});
