import { TokenBucket } from '../../src/common/token-bucket.js';
import { compareStreamIds } from '../../src/common/ids.js';

describe('token bucket', () => {
  it('allows a burst, then the sustained rate', () => {
    let now = 0;
    const bucket = new TokenBucket(10, 20, () => now);
    for (let i = 0; i < 20; i++) expect(bucket.take()).toBe(true);
    expect(bucket.take()).toBe(false);
    expect(bucket.secondsUntilNext()).toBe(1);
    now += 100;
    expect(bucket.take()).toBe(true);
    expect(bucket.take()).toBe(false);
    now += 10_000;
    for (let i = 0; i < 20; i++) expect(bucket.take()).toBe(true);
    expect(bucket.take()).toBe(false);
  });
});

describe('stream ids', () => {
  it('compare by their two numbers, not as strings', () => {
    expect(compareStreamIds('9-0', '10-0')).toBeLessThan(0);
    expect(compareStreamIds('10-2', '10-10')).toBeLessThan(0);
    expect(compareStreamIds('10-10', '10-10')).toBe(0);
    expect(compareStreamIds('1795246580120-0', '1795246580119-99')).toBeGreaterThan(0);
    expect(compareStreamIds('0-18446744073709551615', '0-18446744073709551614')).toBeGreaterThan(0);
  });
});
