import { RedisKeys } from '../../src/adapters/redis/keys.js';
import { RedisConnectionLimiter } from '../../src/adapters/redis/redis-connection-limiter.js';
import { RedisConnections } from '../../src/adapters/redis/redis-connections.js';
import { redisLimiters } from '../../src/adapters/redis/redis-rate-limiter.js';
import { RedisRevocationStore } from '../../src/adapters/redis/redis-revocation-store.js';
import { RedisTicketStore } from '../../src/adapters/redis/redis-ticket-store.js';
import { RateLimits } from '../../src/delivery/sessions/rate-limits.js';
import type { Revocation } from '../../src/delivery/sessions/revocation-store.port.js';
import { RedisServer } from '../support/redis-server.js';
import { describeSessionStores } from './session-stores.behaviour.js';
import { RedisPresenceLeases } from '../../src/adapters/redis/redis-presence-leases.js';

let redis: RedisServer;
const opened: RedisConnections[] = [];
let prefixSeq = 0;
const keys = () => new RedisKeys(`s${process.pid}_${++prefixSeq}`);

/** A replica's connections to the test's Redis (closed after all tests). */
async function connect(): Promise<RedisConnections> {
  const connections = new RedisConnections({ url: redis.url });
  await connections.connect();
  opened.push(connections);
  return connections;
}

beforeAll(async () => {
  redis = await RedisServer.start();
});
afterAll(async () => {
  await Promise.all(opened.map((c) => c.close()));
  await redis?.stop();
});

describeSessionStores('redis', {
  revocations: async () => {
    const { command, subscriber } = await connect();
    const store = new RedisRevocationStore(command, subscriber, keys(), 60);
    await store.listen();
    return store;
  },
  tickets: async () => new RedisTicketStore((await connect()).command, keys()),
  connections: async (leaseMs) =>
    new RedisConnectionLimiter((await connect()).command, keys(), leaseMs),
  limiters: async () => redisLimiters((await connect()).command, keys()),
  presence: async () => new RedisPresenceLeases((await connect()).command, keys()),
});

describe('redis session stores across replicas', () => {
  it('announces a revocation recorded on one replica to another, which then looks it up', async () => {
    const shared = keys();
    const [a, b] = [await connect(), await connect()];
    const here = new RedisRevocationStore(a.command, a.subscriber, shared, 60);
    const there = new RedisRevocationStore(b.command, b.subscriber, shared, 60);
    await Promise.all([here.listen(), there.listen()]);
    const heard = new Promise<Revocation>((resolve) => there.onRevocation(resolve));
    const revocation = { userId: 'u1', projectId: null, at: Date.now() };
    await here.record(revocation);
    expect(await heard).toEqual(revocation);
    expect(await there.lookup('u1')).toEqual(new Map([['*', revocation.at]]));
  });

  it('redeems a ticket saved by one replica on another, once', async () => {
    const shared = keys();
    const [a, b] = [await connect(), await connect()];
    const grant = {
      sub: 'u1',
      projectId: 'p1',
      projects: ['p1'],
      scopes: [],
      expiresAt: Date.now() + 60_000,
      issuedAt: Date.now(),
    };
    await new RedisTicketStore(a.command, shared).save('t1', grant, 60_000);
    expect(await new RedisTicketStore(b.command, shared).take('t1')).toEqual(grant);
    expect(await new RedisTicketStore(a.command, shared).take('t1')).toBeNull();
  });

  it('counts a user’s connection slots and a token’s rate over every replica', async () => {
    const shared = keys();
    const [a, b] = [await connect(), await connect()];
    const lease = (connectionId: string) => ({ userId: 'u1', connectionId });
    expect(await new RedisConnectionLimiter(a.command, shared, 60_000).acquire(lease('x'), 1)).toBe(
      true,
    );
    expect(await new RedisConnectionLimiter(b.command, shared, 60_000).acquire(lease('y'), 1)).toBe(
      false,
    );
    const limits = {
      handshakesPerMinute: 1,
      publishPerSecond: 1,
      readsPerSecond: 1,
      commandsPerSecond: 1,
    };
    const here = new RateLimits(limits, redisLimiters(a.command, shared));
    const there = new RateLimits(limits, redisLimiters(b.command, shared));
    expect(await here.handshake('10.0.0.1')).toEqual({ ok: true });
    expect((await there.handshake('10.0.0.1')).ok).toBe(false);
  });
});
