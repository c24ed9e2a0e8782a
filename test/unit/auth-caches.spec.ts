import { revoke, type Principal } from '../../src/delivery/auth/principal.js';
import { CachedRevocationStore } from '../../src/delivery/sessions/cached-revocation-store.js';
import type {
  Revocation,
  RevocationStore,
} from '../../src/delivery/sessions/revocation-store.port.js';
import { TokenCache } from '../../src/delivery/auth/token-cache.js';

const principal = (expiresAt: number): Principal => ({
  sub: 'u',
  projects: '*',
  scopes: new Set(),
  expiresAt,
  issuedAt: 0,
  revoked: new Set(),
});

describe('verified token cache', () => {
  it('trusts a token until its exp or for a minute, whichever is first, and hands out copies', () => {
    let now = 0;
    const cache = new TokenCache(10, () => now);
    cache.set('short', principal(30_000));
    cache.set('long', principal(3_600_000));
    const copy = cache.get('short')!;
    revoke(copy, 'p');
    expect(copy.revoked.has('p')).toBe(true);
    expect(cache.get('short')!.revoked.size).toBe(0);
    now = 30_000;
    expect(cache.get('short')).toBeNull();
    expect(cache.get('long')).not.toBeNull();
    now = 60_000;
    expect(cache.get('long')).toBeNull();
  });

  it('holds only the tokens trusted now: expired ones go as new ones come', () => {
    let now = 0;
    const cache = new TokenCache(10_000, () => now);
    // Clients that reconnect with a fresh token every second, for ten minutes.
    for (let second = 0; second < 600; second++) {
      now = second * 1000;
      for (let client = 0; client < 5; client++) cache.set(`t${second}-${client}`, principal(1e9));
    }
    // Each is trusted for a minute: about the last 60 seconds' tokens are held.
    expect(cache.size).toBeLessThanOrEqual(61 * 5);
    expect(cache.get('t599-0')).not.toBeNull();
    expect(cache.get('t500-0')).toBeNull();
  });

  it('makes room by dropping the oldest entry', () => {
    const cache = new TokenCache(2, () => 0);
    cache.set('a', principal(1000));
    cache.set('b', principal(1000));
    cache.set('c', principal(1000));
    expect(cache.get('a')).toBeNull();
    expect(cache.get('b')).not.toBeNull();
    expect(cache.get('c')).not.toBeNull();
  });
});

/** A store whose lookups the test releases by hand, to race them with announcements. */
class SlowStore implements RevocationStore {
  readonly data = new Map<string, Map<string, number>>();
  lookups = 0;
  private listeners: ((r: Revocation) => void)[] = [];
  private missed: (() => void)[] = [];
  pending: (() => void)[] = [];
  record(r: Revocation): Promise<void> {
    const user = this.data.get(r.userId) ?? new Map<string, number>();
    user.set(r.projectId ?? '*', r.at);
    this.data.set(r.userId, user);
    return Promise.resolve();
  }
  lookup(userId: string): Promise<Map<string, number>> {
    this.lookups++;
    const snapshot = new Map(this.data.get(userId) ?? []);
    return new Promise((resolve) => this.pending.push(() => resolve(snapshot)));
  }
  onRevocation(listener: (r: Revocation) => void): void {
    this.listeners.push(listener);
  }
  onMissedAnnouncements(listener: () => void): void {
    this.missed.push(listener);
  }
  announce(r: Revocation): void {
    this.listeners.forEach((l) => l(r));
  }
  miss(): void {
    this.missed.forEach((l) => l());
  }
  release(): void {
    this.pending.splice(0).forEach((f) => f());
  }
}

describe('cached revocation store', () => {
  it('answers from memory, kept current by announcements', async () => {
    const inner = new SlowStore();
    const store = new CachedRevocationStore(inner);
    const first = store.lookup('u');
    inner.release();
    expect(await first).toEqual(new Map());
    expect(await store.lookup('u')).toEqual(new Map());
    expect(inner.lookups).toBe(1);
    inner.announce({ userId: 'u', projectId: 'p', at: 5 });
    expect(await store.lookup('u')).toEqual(new Map([['p', 5]]));
    expect(inner.lookups).toBe(1);
  });

  it('knows its own revocations at once, before the announcement comes back', async () => {
    const inner = new SlowStore();
    const store = new CachedRevocationStore(inner);
    const first = store.lookup('u');
    inner.release();
    await first;
    await store.record({ userId: 'u', projectId: null, at: 9 });
    expect(await store.lookup('u')).toEqual(new Map([['*', 9]]));
  });

  it('does not cache a lookup that raced with an announcement, and forgets all after missed announcements', async () => {
    const inner = new SlowStore();
    const store = new CachedRevocationStore(inner);
    const racing = store.lookup('u');
    inner.data.set('u', new Map([['p', 1]]));
    inner.announce({ userId: 'u', projectId: 'p', at: 1 });
    inner.release();
    expect(await racing).toEqual(new Map());
    const again = store.lookup('u');
    inner.release();
    expect(await again).toEqual(new Map([['p', 1]]));
    expect(inner.lookups).toBe(2);
    inner.miss();
    const afterMiss = store.lookup('u');
    inner.release();
    await afterMiss;
    expect(inner.lookups).toBe(3);
  });
});
