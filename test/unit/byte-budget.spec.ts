import { ByteBudget } from '../../src/core/support/byte-budget.js';

describe('ByteBudget', () => {
  it('takes bytes while they fit, and refuses (taking nothing) when they do not', () => {
    const budget = new ByteBudget(100);
    expect(budget.take(60)).toBe(true);
    expect(budget.take(50)).toBe(false);
    expect(budget.inUse).toBe(60);
    expect(budget.take(40)).toBe(true);
    expect(budget.inUse).toBe(100);
  });

  it('gives released bytes to the next taker and never goes below empty', () => {
    const budget = new ByteBudget(100);
    budget.take(100);
    budget.release(30);
    expect(budget.take(30)).toBe(true);
    budget.release(500);
    expect(budget.inUse).toBe(0);
  });
});
