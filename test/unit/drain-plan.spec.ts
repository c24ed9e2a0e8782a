import { planDrain } from '../../src/delivery/drain-plan.js';

describe('drain plan', () => {
  it('spreads connections in batches over the first 80% of the window', () => {
    const delays = planDrain(1000, 10_000);
    expect(delays).toHaveLength(1000);
    expect(Math.min(...delays)).toBe(0);
    expect(Math.max(...delays)).toBeLessThan(8000);
    const batches = new Set(delays);
    expect(batches.size).toBe(80);
    // Even batches: 1000 connections in 80 batches of 12 or 13.
    const sizes = [...batches].map((d) => delays.filter((x) => x === d).length);
    expect(Math.min(...sizes)).toBeGreaterThanOrEqual(12);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(13);
    // Non-decreasing: batch order.
    expect([...delays].sort((a, b) => a - b)).toEqual(delays);
  });

  it('gives each of a few connections its own batch', () => {
    expect(planDrain(4, 10_000)).toEqual([0, 2000, 4000, 6000]);
  });

  it('closes everything at once with no window, and plans nothing for nobody', () => {
    expect(planDrain(3, 0)).toEqual([0, 0, 0]);
    expect(planDrain(0, 10_000)).toEqual([]);
  });
});
