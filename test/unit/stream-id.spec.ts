import { compareStreamIds } from '../../src/core/ids.js';

/** The reference: both numbers as BigInt. */
function byBigInt(a: string, b: string): number {
  const [am, as] = a.split('-').map(BigInt);
  const [bm, bs] = b.split('-').map(BigInt);
  if (am !== bm) return am < bm ? -1 : 1;
  if (as !== bs) return as < bs ? -1 : 1;
  return 0;
}

describe('stream ids', () => {
  it('compare by their two numbers, not as strings', () => {
    expect(compareStreamIds('9-0', '10-0')).toBeLessThan(0);
    expect(compareStreamIds('10-2', '10-10')).toBeLessThan(0);
    expect(compareStreamIds('10-10', '10-10')).toBe(0);
    expect(compareStreamIds('1795246580120-0', '1795246580119-99')).toBeGreaterThan(0);
    expect(compareStreamIds('0-18446744073709551615', '0-18446744073709551614')).toBeGreaterThan(0);
  });

  it('ignore leading zeros', () => {
    expect(compareStreamIds('007-1', '7-1')).toBe(0);
    expect(compareStreamIds('0-0', '000-00')).toBe(0);
    expect(compareStreamIds('0010-0', '9-5')).toBeGreaterThan(0);
    expect(compareStreamIds('5-0009', '5-10')).toBeLessThan(0);
  });

  it('agree with a BigInt comparison on random ids of every length', () => {
    let seed = 42;
    const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    const digits = () => {
      const n = 1 + Math.floor(random() * 20);
      let s = '';
      for (let i = 0; i < n; i++) s += String(Math.floor(random() * (i === 0 ? 3 : 10)));
      return s;
    };
    for (let i = 0; i < 5000; i++) {
      const a = `${digits()}-${digits()}`;
      // Often the same first number, so the second one decides.
      const b = random() < 0.5 ? `${a.split('-')[0]}-${digits()}` : `${digits()}-${digits()}`;
      expect([a, b, Math.sign(compareStreamIds(a, b))]).toEqual([a, b, byBigInt(a, b)]);
    }
  });
});
