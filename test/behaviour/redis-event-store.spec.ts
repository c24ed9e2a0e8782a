import { RedisEventStore } from '../../src/adapters/redis/redis-event-store.js';
import { EventPublisher } from '../../src/core/publisher.js';
import { RedisConnections } from '../../src/adapters/redis/redis-connections.js';
import { RedisKeys } from '../../src/adapters/redis/keys.js';
import { RedisServer } from '../support/redis-server.js';
import { describeEventStore } from './event-store.behaviour.js';

let redis: RedisServer;
let prefixSeq = 0;

beforeAll(async () => {
  redis = await RedisServer.start();
});
afterAll(async () => {
  await redis?.stop();
});

describeEventStore('redis', async (limits) => {
  const connections = new RedisConnections({ url: redis.url });
  await connections.connect();
  const keys = new RedisKeys(`t${process.pid}_${++prefixSeq}`);
  const store = new RedisEventStore(connections.command, connections.subscriber, { keys, limits });
  return { store, close: () => connections.close() };
});

describe('redis event store specifics', () => {
  it('(S)UNSUBSCRIBEs from a live channel when the last local subscriber leaves', async () => {
    const connections = new RedisConnections({ url: redis.url });
    await connections.connect();
    const keys = new RedisKeys(`t${process.pid}_${++prefixSeq}`);
    const limits = { maxEvents: 10, maxLogLines: 10, logTtlSeconds: 60, endedTtlSeconds: 60 };
    const store = new RedisEventStore(connections.command, connections.subscriber, {
      keys,
      limits,
    });
    const admin = redis.client();
    const subscribers = async () =>
      ((await admin.call('PUBSUB', 'SHARDNUMSUB', keys.live('p1'))) as [string, number])[1];
    try {
      const sub = await store.subscribe('p1', '*', () => undefined);
      expect(await subscribers()).toBe(1);
      await store.unsubscribe(sub);
      expect(await subscribers()).toBe(0);
    } finally {
      admin.disconnect();
      await connections.close();
    }
  });

  it('fails fast with UNAVAILABLE when Redis is gone', async () => {
    const own = await RedisServer.start();
    const connections = new RedisConnections({ url: own.url });
    connections.command.on('error', () => undefined);
    await connections.connect();
    const keys = new RedisKeys('gone');
    const limits = { maxEvents: 10, maxLogLines: 10, logTtlSeconds: 60, endedTtlSeconds: 60 };
    const store = new RedisEventStore(connections.command, connections.subscriber, {
      keys,
      limits,
    });
    await own.stop();
    await expect(
      new EventPublisher(store).publish({
        type: 'task.status.changed',
        projectId: 'p1',
        data: { taskId: 't', from: null, to: 'done' },
      }),
    ).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await connections.close();
  });
});
