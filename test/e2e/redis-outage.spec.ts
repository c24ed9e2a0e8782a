import type { Redis } from 'ioredis';
import { reportFigures } from '../support/figures.js';
import { GatewayProcess } from '../support/gateway-process.js';
import { http } from '../support/http.js';
import { eventually, metric } from '../support/metrics.js';
import { ReplicaPool } from '../support/pool.js';
import { Publisher } from '../support/publisher.js';
import { RedisServer } from '../support/redis-server.js';
import { ResumingViewer, strictlyIncreasingIds } from '../support/resuming-viewer.js';
import { TestStack } from '../support/stack.js';
import { serviceToken, token } from '../support/tokens.js';
import { Viewer } from '../support/viewer.js';

const OUTAGE_MS = 10_000;

/**
 * Redis misbehaves under two live replicas: paused, its pub/sub connections
 * killed, restarted empty. Viewers stay connected (or come back by
 * themselves), never see a gap or a duplicate, and are resynced when history
 * was lost.
 */
describe('Redis outages under live viewers', () => {
  let stack: TestStack;
  let redis: RedisServer;
  let client: Redis;
  let replicas: GatewayProcess[];
  const viewers: { stop(): void }[] = [];
  const svc = serviceToken();
  let seq = 0;
  const project = () => `ro${Date.now().toString(36)}${++seq}`;
  const streamIds = (projectId: string) => stack.streamIds(projectId);
  const publish = (url: string, projectId: string, taskId: string) =>
    http('POST', `${url}/api/projects/${projectId}/events`, {
      token: svc,
      body: { type: 'task.status.changed', data: { taskId, from: null, to: 'active' } },
    });
  const startViewers = async (projectId: string, count: number) => {
    const pool = new ReplicaPool(replicas.map((r) => r.url));
    const group = await Promise.all(
      Array.from({ length: count }, (_, i) =>
        ResumingViewer.start({ nextUrl: pool.picker(i), token: token(), projectId }),
      ),
    );
    viewers.push(...group);
    return group;
  };

  beforeAll(async () => {
    stack = await TestStack.start({
      replicas: 2,
      prefix: `ro${process.pid}`,
      env: { REDIS_HEARTBEAT_MS: '250', REDIS_COMMAND_TIMEOUT_MS: '500' },
    });
    ({ redis, client, replicas } = stack);
  }, 60_000);

  afterEach(() => {
    viewers.splice(0).forEach((v) => v.stop());
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('Redis paused for 10 s: viewers stay connected, /healthz 200, /readyz reports it, publish fails fast with 503, and nothing is missed after', async () => {
    const p = project();
    const group = await startViewers(p, 6);
    for (let i = 0; i < 10; i++)
      expect((await publish(replicas[i % 2].url, p, `a${i}`)).status).toBe(202);
    await Promise.all(group.map((v) => v.until(() => v.events.length === 10)));
    const rssBefore = await Promise.all(
      replicas.map((r) => metric(r.url, 'gateway_process_resident_memory_bytes')),
    );

    const pausedAt = Date.now();
    redis.pause();
    const detectedMs: number[] = [];
    await Promise.all(
      replicas.map((r) =>
        eventually(
          async () => {
            const res = await http('GET', `${r.url}/readyz`);
            if (res.status !== 503) return false;
            expect(res.body).toMatchObject({ status: 'unready', redis: 'down', draining: false });
            detectedMs.push(Date.now() - pausedAt);
            return true;
          },
          10_000,
          'readyz to report Redis down',
        ),
      ),
    );
    for (const r of replicas) expect((await http('GET', `${r.url}/healthz`)).status).toBe(200);
    const publishMs: number[] = [];
    for (let i = 0; i < 20; i++) {
      const started = Date.now();
      const res = await publish(replicas[i % 2].url, p, `lost${i}`);
      publishMs.push(Date.now() - started);
      expect(res.status).toBe(503);
      expect(res.body).toMatchObject({ error: { code: 'UNAVAILABLE' } });
      expect(res.headers.get('retry-after')).toBeTruthy();
    }
    const rssDuring = await Promise.all(
      replicas.map((r) => metric(r.url, 'gateway_process_resident_memory_bytes')),
    );
    // Wait out the outage while checking that nobody was disconnected.
    await eventually(
      () => Promise.resolve(Date.now() - pausedAt >= OUTAGE_MS),
      OUTAGE_MS + 1000,
      'the outage to last',
    );
    expect(group.every((v) => v.connected && v.disconnectedAt.length === 0)).toBe(true);
    redis.resume();
    const resumedAt = Date.now();
    await Promise.all(
      replicas.map((r) =>
        eventually(async () => (await http('GET', `${r.url}/readyz`)).status === 200),
      ),
    );
    const readyAgainMs = Date.now() - resumedAt;
    // The breaker may have opened on writes that timed out before the heartbeat noticed.
    await eventually(async () => (await publish(replicas[0].url, p, 'b0')).status === 202, 70_000);
    for (let i = 1; i < 10; i++)
      expect((await publish(replicas[i % 2].url, p, `b${i}`)).status).toBe(202);

    const ids = await streamIds(p);
    expect(ids).toHaveLength(20);
    for (const v of group) {
      await v.until(() => v.lastId === ids.at(-1));
      expect(strictlyIncreasingIds(v.events)).toEqual(ids);
      expect(v.disconnectedAt).toEqual([]);
      expect(v.failedResumes).toEqual([]);
    }
    reportFigures('redis-paused', {
      outageMs: OUTAGE_MS,
      readyzDownAfterMs: detectedMs,
      publishDuringOutageMs: { first: publishMs[0], max: Math.max(...publishMs.slice(1)) },
      readyAgainAfterResumeMs: readyAgainMs,
      rssBeforeMiB: rssBefore.map((b) => +(b / 2 ** 20).toFixed(1)),
      rssDuringMiB: rssDuring.map((b) => +(b / 2 ** 20).toFixed(1)),
    });
  }, 60_000);

  it('CLIENT KILL TYPE pubsub: each replica resubscribes within 2 s and backfills what it missed', async () => {
    const p = project();
    const group = await startViewers(p, 6);
    const publisher = new Publisher(() => replicas[0].url, p, svc, 2);
    await Promise.all(group.map((v) => v.until(() => v.events.length >= 20)));
    const restoresBefore = await Promise.all(
      replicas.map((r) => metric(r.url, 'gateway_live_restores_total')),
    );
    const backfilledBefore = await Promise.all(
      replicas.map((r) => metric(r.url, 'gateway_backfilled_events_total')),
    );

    const killedAt = Date.now();
    expect(await client.client('KILL', 'TYPE', 'pubsub')).toBeGreaterThanOrEqual(2);
    const restoredMs: number[] = [];
    await Promise.all(
      replicas.map((r, i) =>
        eventually(async () => {
          if ((await metric(r.url, 'gateway_live_restores_total')) <= restoresBefore[i]) {
            return false;
          }
          restoredMs.push(Date.now() - killedAt);
          return true;
        }, 5000),
      ),
    );
    const atRestore = Math.max(...group.map((v) => v.events.length));
    await Promise.all(group.map((v) => v.until(() => v.events.length >= atRestore + 20)));
    await publisher.stop();

    const ids = await streamIds(p);
    for (const v of group) {
      await v.until(() => v.lastId === ids.at(-1));
      expect(strictlyIncreasingIds(v.events)).toEqual(ids);
      expect(v.disconnectedAt).toEqual([]);
    }
    const backfilled = await Promise.all(
      replicas.map(
        async (r, i) =>
          (await metric(r.url, 'gateway_backfilled_events_total')) - backfilledBefore[i],
      ),
    );
    // Events were published every 2 ms through the ~100 ms reconnect: there was a gap to fill.
    expect(backfilled.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    for (const ms of restoredMs) expect(ms).toBeLessThan(2000);
    reportFigures('pubsub-killed', { restoredAfterMs: restoredMs, backfilledEvents: backfilled });
  }, 30_000);

  it('Redis restarted empty: every viewer gets subscription:resync within seconds, and an old since gets resync: true', async () => {
    const p = project();
    const group = await startViewers(p, 4);
    for (let i = 0; i < 5; i++)
      expect((await publish(replicas[0].url, p, `c${i}`)).status).toBe(202);
    await Promise.all(group.map((v) => v.until(() => v.events.length === 5)));
    const oldId = group[0].lastId!;

    const restartedAt = Date.now();
    await redis.restartEmpty();
    await Promise.all(group.map((v) => v.until(() => v.resyncs === 1, 15_000, 'a resync')));
    const resyncMs = Date.now() - restartedAt;
    for (const v of group) {
      expect(v.snapshot).toEqual({});
      expect(v.lastId).toBe('0-0');
    }
    await eventually(
      async () => (await publish(replicas[1].url, p, 'after')).status === 202,
      70_000,
    );
    const [after] = await streamIds(p);
    for (const v of group) {
      await v.until(() => v.lastId === after);
      expect(v.events.at(-1)).toMatchObject({ id: after, data: { taskId: 'after' } });
    }

    const late = await Viewer.connect(replicas[0].url, token());
    viewers.push({ stop: () => late.close() });
    const ack = await late.subscribe({ projectId: p, since: oldId });
    expect(ack).toMatchObject({ ok: true, resync: true });
    expect(Object.keys(ack.snapshot!)).toEqual(['task:after']);
    reportFigures('redis-restarted-empty', { viewers: group.length, allResyncedAfterMs: resyncMs });
  }, 40_000);
});

describe('circuit breaker around Redis writes', () => {
  let redis: RedisServer;
  let client: Redis;
  let replica: GatewayProcess;
  const svc = serviceToken();
  const publish = () =>
    http('POST', `${replica.url}/api/projects/cb/events`, {
      token: svc,
      body: { type: 'task.status.changed', data: { taskId: 't', from: null, to: 'active' } },
    });
  /** Appends Redis was asked to do (run or refused), from its command statistics. */
  const appendAttempts = async () => {
    const stats = await client.info('commandstats');
    const line = /cmdstat_xadd:([^\r\n]*)/.exec(stats)?.[1] ?? '';
    const field = (name: string) => Number(new RegExp(`${name}=(\\d+)`).exec(line)?.[1] ?? 0);
    return field('calls') + field('rejected_calls');
  };

  beforeAll(async () => {
    redis = await RedisServer.start();
    client = redis.client();
    replica = await GatewayProcess.start({
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: `cb${process.pid}`,
      CIRCUIT_BREAKER_OPEN_MS: '1500',
    });
  }, 30_000);

  afterAll(async () => {
    client?.disconnect();
    await replica?.kill();
    await redis?.stop();
  });

  it('opens after 5 failed writes, fails at once while open, half-opens to probe and closes when Redis is healthy', async () => {
    expect((await publish()).status).toBe(202);
    expect(await metric(replica.url, 'gateway_redis_circuit_state')).toBe(0);

    // Redis stays up and answers PING, but refuses writes: only the breaker can notice.
    await client.config('SET', 'maxmemory-policy', 'noeviction');
    await client.config('SET', 'maxmemory', '1');
    const attemptsBefore = await appendAttempts();
    for (let i = 0; i < 5; i++) {
      const res = await publish();
      expect(res.status).toBe(503);
      expect(res.body.error.message).toMatch(/OOM/);
    }
    expect(await metric(replica.url, 'gateway_redis_circuit_state')).toBe(2);
    const attemptsWhenOpened = await appendAttempts();
    // Each refused write did reach Redis; the next ones must not.
    expect(attemptsWhenOpened - attemptsBefore).toBe(5);
    const open = await publish();
    expect(open.status).toBe(503);
    expect(open.body.error).toMatchObject({ code: 'UNAVAILABLE' });
    expect(open.body.error.message).toMatch(/circuit open/);
    expect(Number(open.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // Refused without touching Redis.
    expect(await appendAttempts()).toBe(attemptsWhenOpened);

    // Still failing when it half-opens: the probe fails and it opens again.
    await eventually(async () => {
      const res = await publish();
      return !/circuit open/.test(res.body.error.message as string);
    });
    expect(await metric(replica.url, 'gateway_redis_circuit_state')).toBe(2);

    await client.config('SET', 'maxmemory', '0');
    await eventually(async () => (await publish()).status === 202);
    expect(await metric(replica.url, 'gateway_redis_circuit_state')).toBe(0);
    expect(replica.logs.some((l) => l.includes('redis write circuit open'))).toBe(true);
    expect(replica.logs.some((l) => l.includes('redis write circuit half-open'))).toBe(true);
  }, 30_000);
});
