import type { Redis } from 'ioredis';
import { AgentClient } from '../../src/client/agent-client.js';
import { reportFigures } from '../support/figures.js';
import { GatewayProcess } from '../support/gateway-process.js';
import { http } from '../support/http.js';
import { eventually, metric } from '../support/metrics.js';
import { RedisServer } from '../support/redis-server.js';
import { serviceToken, token } from '../support/tokens.js';
import { Viewer } from '../support/viewer.js';

const VIEWERS = 2000;
const WAVE = 200;
const PROJECTS = 20;

/**
 * Thousands of viewers connect, subscribe (to projects, filtered, and to run
 * logs), churn and leave while events flow: afterwards the replica holds no
 * room, live channel, per-socket state or timer, and its heap after GC is back
 * near where it started.
 */
describe('no leaks after churn', () => {
  let redis: RedisServer;
  let client: Redis;
  let replica: GatewayProcess;
  const prefix = `lk${process.pid}`;
  const svc = serviceToken();

  const heap = async () =>
    (await http<{ heapUsed: number; rss: number }>('GET', `${replica.url}/debug/heap`)).body;
  const internal = (kind: string) =>
    metric(replica.url, 'gateway_internal_objects', `kind="${kind}"`);

  /** One wave: connect, subscribe, churn, receive, leave. */
  const wave = async (offset: number, size: number, onFull?: () => Promise<void>) => {
    const viewers = await Promise.all(
      Array.from({ length: size }, () => Viewer.connect(replica.url, token())),
    );
    await Promise.all(
      viewers.map(async (v, i) => {
        const projectId = `p${(offset + i) % PROJECTS}`;
        const kind = i % 4;
        const types = kind === 1 ? ['task.*'] : kind === 2 ? ['agent.*', 'system.*'] : undefined;
        expect(await v.subscribe({ projectId, ...(types ? { types } : {}) })).toMatchObject({
          ok: true,
        });
        if (kind === 3) {
          const ack = await v.emit('logs:subscribe', { projectId, runId: `r${i % 5}` });
          expect(ack).toMatchObject({ ok: true });
        }
        if (i % 5 === 0) {
          expect(await v.emit('unsubscribe', { projectId })).toEqual({ ok: true });
          expect(await v.subscribe({ projectId: `p${(i + 1) % PROJECTS}` })).toMatchObject({
            ok: true,
          });
        }
      }),
    );
    const published = await http(
      'POST',
      `${replica.url}/api/projects/p${offset % PROJECTS}/events`,
      {
        token: svc,
        body: [
          { type: 'task.status.changed', data: { taskId: `t${offset}`, from: null, to: 'active' } },
          { type: 'agent.run.log', data: { runId: 'r0', line: 'hello', lineNumber: offset + 1 } },
        ],
      },
    );
    expect(published.status).toBe(202);
    await onFull?.();
    viewers.forEach((v) => v.close());
  };

  beforeAll(async () => {
    redis = await RedisServer.start();
    client = redis.client();
    replica = await GatewayProcess.start(
      {
        REDIS_URL: redis.url,
        REDIS_KEY_PREFIX: prefix,
        RATE_LIMIT_MESSAGES_PER_SECOND: '100',
        RATE_LIMIT_COMMANDS_PER_SECOND: '1000',
      },
      ['--expose-gc'],
    );
  }, 30_000);

  afterAll(async () => {
    client?.disconnect();
    await replica?.kill();
    await redis?.stop();
  });

  it(`${VIEWERS} viewers connect, subscribe, churn and leave: every internal count returns to zero and the heap returns near its start`, async () => {
    // Warm up code paths and caches before the baseline.
    // The counts measure something: while viewers are on, none is zero.
    await wave(0, WAVE, async () => {
      for (const kind of [
        'rooms',
        'feeds',
        'socket_states',
        'bus_channels',
        'socket_timer_entries',
        'token_cache',
      ]) {
        expect([kind, await internal(kind)]).toEqual([kind, expect.any(Number)]);
        expect(await internal(kind)).toBeGreaterThan(0);
      }
    });
    await eventually(async () => (await metric(replica.url, 'gateway_connected_sockets')) === 0);
    const before = await heap();

    const startedAt = Date.now();
    for (let offset = 0; offset < VIEWERS; offset += WAVE) await wave(offset, WAVE);
    await eventually(async () => (await metric(replica.url, 'gateway_connected_sockets')) === 0);
    const churnMs = Date.now() - startedAt;

    expect(await metric(replica.url, 'gateway_subscriptions')).toBe(0);
    expect(await metric(replica.url, 'gateway_live_channels')).toBe(0);
    expect(await metric(replica.url, 'gateway_slow_viewers')).toBe(0);
    for (const kind of [
      'rooms',
      'feeds',
      'socket_states',
      'feed_timers',
      'bus_channels',
      'socket_timers',
      'socket_timer_entries',
    ]) {
      expect([kind, await internal(kind)]).toEqual([kind, 0]);
    }
    // No project live channel left subscribed in Redis either.
    expect(await client.call('PUBSUB', 'SHARDCHANNELS', `${prefix}:*:live`)).toEqual([]);

    const after = await heap();
    const growth = after.heapUsed - before.heapUsed;
    expect(growth).toBeLessThan(Math.max(8 * 2 ** 20, before.heapUsed * 0.25));
    reportFigures('leaks', {
      viewers: VIEWERS,
      churnMs,
      heapBeforeMiB: +(before.heapUsed / 2 ** 20).toFixed(1),
      heapAfterMiB: +(after.heapUsed / 2 ** 20).toFixed(1),
      rssBeforeMiB: +(before.rss / 2 ** 20).toFixed(1),
      rssAfterMiB: +(after.rss / 2 ** 20).toFixed(1),
    });
  }, 120_000);

  it('agents that come, finish their commands and go leave nothing behind: agent and command counts return to zero', async () => {
    const projectId = 'agents-leak';
    const ops = await Viewer.connect(
      replica.url,
      token({ sub: 'leak-operator', projects: [projectId], scope: 'agents:command' }),
    );
    expect(await ops.subscribe({ projectId })).toMatchObject({ ok: true });
    const agents = Array.from({ length: 20 }, (_, i) =>
      new AgentClient({
        url: replica.url,
        token: token({
          sub: `leak-agent-${i}`,
          projects: [projectId],
          extra: { role: 'agent' },
        }),
      }).onCommand('agent.instruct', ({ text }) => `done: ${text}`),
    );
    try {
      await Promise.all(agents.map((a) => a.ready()));
      for (let round = 0; round < 2; round++) {
        for (let i = 0; i < agents.length; i++) {
          const ack = await ops.emit('command:request', {
            projectId,
            agentId: `leak-agent-${i}`,
            command: 'agent.instruct',
            args: { text: `round ${round}` },
          });
          expect(ack).toMatchObject({ ok: true });
        }
      }
      // While they are on, the counts see them.
      expect(await internal('agents')).toBe(20);
      expect(await internal('command_listeners')).toBeGreaterThan(0);
      await ops.until(
        (events) => events.filter((e) => e.type === 'command.completed').length === 40,
        20_000,
      );
    } finally {
      agents.forEach((a) => a.close());
      ops.close();
    }
    for (const kind of ['agents', 'agent_index', 'command_listeners', 'watched_commands'])
      await eventually(async () => (await internal(kind)) === 0, 10_000, kind);
  }, 60_000);

  it('replays of many run logs at once leave the heap where it was once the viewers are gone', async () => {
    const projectId = 'replay-leak';
    const RUNS = 4;
    const LINES = 5000;
    for (let run = 0; run < RUNS; run++) {
      for (let from = 0; from < LINES; from += 100) {
        const body = Array.from({ length: 100 }, (_, i) => ({
          type: 'agent.run.log',
          data: {
            runId: `r${run}`,
            line: `line ${from + i} of run ${run}`,
            lineNumber: from + i + 1,
          },
        }));
        const res = await http('POST', `${replica.url}/api/projects/${projectId}/events`, {
          token: svc,
          body,
        });
        expect(res.status).toBe(202);
      }
    }
    const replayAll = async (count: number) => {
      const viewers = await Promise.all(
        Array.from({ length: count }, () => Viewer.connect(replica.url, token())),
      );
      await Promise.all(
        viewers.map(async (v, i) => {
          const ack = await v.emit('logs:subscribe', { projectId, runId: `r${i % RUNS}` });
          expect(ack).toMatchObject({ ok: true, replayed: LINES });
          await v.until((events) => events.length >= LINES, 30_000);
        }),
      );
      viewers.forEach((v) => v.close());
      await eventually(async () => (await metric(replica.url, 'gateway_connected_sockets')) === 0);
    };
    // A few to warm code and caches, then measured: 120,000 events replayed at once, twice.
    await replayAll(RUNS);
    const before = await heap();
    await replayAll(24);
    await replayAll(24);
    const after = await heap();
    expect(after.heapUsed - before.heapUsed).toBeLessThan(2.5 * 2 ** 20);
  }, 120_000);

  it('/debug/heap does not exist unless node runs with --expose-gc', async () => {
    const plain = await GatewayProcess.start({ REDIS_URL: redis.url, REDIS_KEY_PREFIX: prefix });
    try {
      const res = await http('GET', `${plain.url}/debug/heap`);
      expect(res.status).toBe(404);
      expect(res.body).toMatchObject({ error: { code: 'NOT_FOUND' } });
    } finally {
      await plain.kill();
    }
  });
});
