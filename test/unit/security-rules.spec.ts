import type { IncomingMessage } from 'node:http';
import { revokes } from '../../src/delivery/sessions/revocation-rule.js';
import { MemoryRevocationStore } from '../../src/adapters/memory/memory-revocation-store.js';
import { clientAddressResolver } from '../../src/transports/http/client-address.js';
import { MemoryConnectionLimiter } from '../../src/adapters/memory/memory-connection-limiter.js';

describe('revocation rule', () => {
  const at = Date.UTC(2026, 10, 21, 10, 0, 0, 500);
  it('revokes tokens issued before or in the same second, never later ones', () => {
    expect(revokes(at, at - 3_600_000)).toBe(true);
    expect(revokes(at, Date.UTC(2026, 10, 21, 10, 0, 0))).toBe(true);
    expect(revokes(at, Date.UTC(2026, 10, 21, 10, 0, 1))).toBe(false);
  });
});

describe('memory revocation store', () => {
  it('announces revocations and forgets them after the TTL', async () => {
    let now = 1_000_000;
    const store = new MemoryRevocationStore(60_000, () => now);
    const heard: unknown[] = [];
    store.onRevocation((r) => heard.push(r));
    await store.record({ userId: 'u', projectId: 'p', at: now });
    await store.record({ userId: 'u', projectId: null, at: now });
    expect(heard).toHaveLength(2);
    expect(await store.lookup('u')).toEqual(
      new Map([
        ['p', now],
        ['*', now],
      ]),
    );
    expect(await store.lookup('other')).toEqual(new Map());
    now += 60_001;
    expect(await store.lookup('u')).toEqual(new Map());
  });
});

describe('connection slots (memory limiter)', () => {
  it('caps live leases per user, frees on release, and lets unrenewed leases expire', async () => {
    let now = 0;
    const limiter = new MemoryConnectionLimiter(30_000, () => now);
    const lease = (connectionId: string, userId = 'u') => ({ userId, connectionId });
    expect(await limiter.acquire(lease('a'), 2)).toBe(true);
    expect(await limiter.acquire(lease('b'), 2)).toBe(true);
    expect(await limiter.acquire(lease('c'), 2)).toBe(false);
    expect(await limiter.acquire(lease('x', 'other'), 2)).toBe(true);
    await limiter.release(lease('a'));
    expect(await limiter.acquire(lease('c'), 2)).toBe(true);
    // b is renewed, c is not: after a lease time only c's slot is free.
    now = 20_000;
    await limiter.renew([lease('b')]);
    now = 40_000;
    expect(await limiter.acquire(lease('d'), 2)).toBe(true);
    expect(await limiter.acquire(lease('e'), 2)).toBe(false);
  });
});

describe('client address', () => {
  const req = (remote: string, forwarded?: string) =>
    ({
      socket: { remoteAddress: remote },
      connection: { remoteAddress: remote },
      headers: forwarded ? { 'x-forwarded-for': forwarded } : {},
    }) as unknown as IncomingMessage;

  it('believes X-Forwarded-For only from trusted proxies', () => {
    const behindLb = clientAddressResolver(['10.0.0.0/8']);
    expect(behindLb(req('10.1.2.3', '203.0.113.9'))).toBe('203.0.113.9');
    expect(behindLb(req('198.51.100.7', '203.0.113.9'))).toBe('198.51.100.7');
    // A client-supplied entry before the proxy's own is not taken.
    expect(behindLb(req('10.1.2.3', '6.6.6.6, 203.0.113.9'))).toBe('203.0.113.9');
    const direct = clientAddressResolver([]);
    expect(direct(req('198.51.100.7', '203.0.113.9'))).toBe('198.51.100.7');
  });
});
