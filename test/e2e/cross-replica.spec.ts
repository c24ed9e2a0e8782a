import type { EventEnvelope } from '../../src/core/envelope.js';
import { GatewayProcess } from '../support/gateway-process.js';
import { http } from '../support/http.js';
import { RedisServer } from '../support/redis-server.js';
import { serviceToken, token } from '../support/tokens.js';
import { Viewer } from '../support/viewer.js';

/**
 * Three real replicas on one private redis-server, real socket.io-client
 * viewers: what one replica receives, every replica's viewers see.
 */
describe('three replicas on one Redis', () => {
  let redis: RedisServer;
  let replicas: GatewayProcess[];
  const viewers: Viewer[] = [];
  const svc = serviceToken();
  let seq = 0;
  const project = () => `x${Date.now().toString(36)}${++seq}`;

  const connect = async (replica: GatewayProcess, t = token()) => {
    const v = await Viewer.connect(replica.url, t);
    viewers.push(v);
    return v;
  };
  const publish = (replica: GatewayProcess, projectId: string, body: unknown, t = svc) =>
    http('POST', `${replica.url}/api/projects/${projectId}/events`, { token: t, body });
  const taskEvent = (taskId: string, to = 'planning', from: string | null = null) => ({
    type: 'task.status.changed',
    data: { taskId, from, to },
  });

  beforeAll(async () => {
    redis = await RedisServer.start();
    const env = {
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: `e2e${process.pid}`,
      HISTORY_MAX_EVENTS: '50',
    };
    replicas = await Promise.all([0, 1, 2].map(() => GatewayProcess.start(env)));
  }, 60_000);

  afterEach(() => {
    viewers.splice(0).forEach((v) => v.close());
  });

  afterAll(async () => {
    await Promise.all((replicas ?? []).map((r) => r.kill()));
    await redis?.stop();
  });

  it('fans an event published on one replica out to viewers on every replica, and nothing of other projects', async () => {
    const p = project();
    const other = project();
    const [a, b, c] = await Promise.all(replicas.map((r) => connect(r)));
    const outsider = await connect(replicas[1]);
    for (const v of [a, b, c])
      expect(await v.subscribe({ projectId: p })).toMatchObject({
        ok: true,
        position: '0-0',
        replayed: 0,
      });
    expect(await outsider.subscribe({ projectId: other })).toMatchObject({ ok: true });

    const res = await publish(replicas[0], p, taskEvent('t1'));
    expect(res.status).toBe(202);
    const [id] = res.body.ids as string[];
    for (const v of [a, b, c]) {
      const [e] = await v.untilCount(1);
      expect(e).toMatchObject({
        id,
        type: 'task.status.changed',
        projectId: p,
        source: 'svc-tests',
        data: { taskId: 't1' },
      });
    }
    // A marker in the other project proves the outsider's feed works and got only its own.
    await publish(replicas[2], other, taskEvent('marker'));
    await outsider.untilCount(1);
    expect(outsider.events.map((e) => e.projectId)).toEqual([other]);
    expect(a.events).toHaveLength(1);
  });

  it('delivers events in id order with no duplicates across replicas and publishers', async () => {
    const p = project();
    const vs = await Promise.all(replicas.map((r) => connect(r)));
    for (const v of vs) await v.subscribe({ projectId: p });
    const bodies = Array.from({ length: 30 }, (_, i) => taskEvent(`t${i}`));
    const results = await Promise.all(bodies.map((b, i) => publish(replicas[i % 3], p, b)));
    const ids = results.flatMap((r) => r.body.ids as string[]);
    for (const v of vs) {
      await v.untilCount(30);
      const got = v.events.map((e) => e.id);
      expect(new Set(got)).toEqual(new Set(ids));
      expect(got).toEqual([...got].sort(byId));
    }
  });

  it('applies type filters per viewer', async () => {
    const p = project();
    const all = await connect(replicas[0]);
    const agents = await connect(replicas[1]);
    const completions = await connect(replicas[2]);
    await all.subscribe({ projectId: p });
    await agents.subscribe({ projectId: p, types: ['agent.*'] });
    await completions.subscribe({ projectId: p, types: ['*.*.completed'] });
    await publish(replicas[0], p, [
      { type: 'agent.status.changed', data: { agentId: 'a1', status: 'busy' } },
      taskEvent('t1'),
      { type: 'agent.run.completed', data: { runId: 'r1', agentId: 'a1', durationMs: 5 } },
    ]);
    await all.untilCount(3);
    await agents.untilCount(2);
    await completions.untilCount(1);
    // A trailing event every filter accepts proves nothing else was coming.
    await publish(replicas[0], p, {
      type: 'agent.run.completed',
      data: { runId: 'r2', agentId: 'a1', durationMs: 5 },
    });
    await completions.untilCount(2);
    await agents.untilCount(3);
    expect(agents.events.map((e) => e.type)).toEqual([
      'agent.status.changed',
      'agent.run.completed',
      'agent.run.completed',
    ]);
    expect(completions.events.map((e) => e.type)).toEqual([
      'agent.run.completed',
      'agent.run.completed',
    ]);
  });

  it('resumes on another replica with exactly the missed events', async () => {
    const p = project();
    const first = await connect(replicas[0]);
    await first.subscribe({ projectId: p });
    await publish(replicas[0], p, [taskEvent('t1'), taskEvent('t2')]);
    await first.untilCount(2);
    const lastSeen = first.events[1].id;
    first.close();
    const missed = await publish(replicas[1], p, [
      taskEvent('t3'),
      taskEvent('t4'),
      taskEvent('t5'),
    ]);

    const again = await connect(replicas[2]);
    const ack = await again.subscribe({ projectId: p, since: lastSeen });
    expect(ack).toMatchObject({ ok: true, projectId: p, position: lastSeen, replayed: 3 });
    expect(ack.snapshot).toBeUndefined();
    await again.untilCount(3);
    const live = await publish(replicas[0], p, taskEvent('t6'));
    await again.untilCount(4);
    expect(again.events.map((e) => e.id)).toEqual([
      ...(missed.body.ids as string[]),
      ...(live.body.ids as string[]),
    ]);
  });

  it('answers a since that is no longer held with resync: true and a fresh snapshot', async () => {
    const p = project();
    const first = await publish(replicas[0], p, taskEvent('t0'));
    const [oldId] = first.body.ids as string[];
    // HISTORY_MAX_EVENTS is 50: 60 more trim the first one away.
    for (let i = 0; i < 3; i++) {
      await publish(
        replicas[i],
        p,
        Array.from({ length: 20 }, (_, j) => taskEvent(`t${i}-${j}`)),
      );
    }
    const v = await connect(replicas[1]);
    const ack = await v.subscribe({ projectId: p, since: oldId });
    expect(ack).toMatchObject({ ok: true, resync: true, replayed: 0 });
    expect(Object.keys(ack.snapshot ?? {})).toHaveLength(61);
    const never = await v.subscribe({ projectId: p, since: '99999999999999-0' });
    expect(never).toMatchObject({ ok: true, resync: true });
    const history = await http(
      'GET',
      `${replicas[2].url}/api/projects/${p}/events/history?since=${oldId}`,
      {
        token: token(),
      },
    );
    expect(history.status).toBe(410);
    expect(history.body).toMatchObject({ error: { code: 'RESYNC' } });
  });

  it('gives every viewer snapshot + events after position equal to the final state, under concurrent publishers', async () => {
    const p = project();
    const TASKS = 8;
    const STEPS = 20;
    const vs = await Promise.all(Array.from({ length: 9 }, (_, i) => connect(replicas[i % 3])));
    const acks: Promise<{ v: Viewer; ack: Awaited<ReturnType<Viewer['subscribe']>> }>[] = [];
    const publishers = [0, 1, 2].map(async (r) => {
      for (let step = 0; step < STEPS; step++) {
        const batch = Array.from({ length: TASKS }, (_, t) => ({
          type: 'system.resource.sampled',
          data: { host: `h${t}`, cpuPercent: (r * STEPS + step) % 100, memoryPercent: t },
        }));
        await publish(replicas[r], p, batch);
        // Viewers subscribe while the publishers are mid-flight.
        if (r === 0 && step < vs.length)
          acks.push(vs[step].subscribe({ projectId: p }).then((ack) => ({ v: vs[step], ack })));
      }
    });
    await Promise.all(publishers);
    const subscribed = await Promise.all(acks);
    const final = await http('GET', `${replicas[1].url}/api/projects/${p}/snapshot`, {
      token: token(),
    });
    const finalState = final.body.snapshot as Record<string, EventEnvelope>;
    const finalPosition = final.body.position as string;
    for (const { v, ack } of subscribed) {
      expect(ack.ok).toBe(true);
      await v.until(
        (events) =>
          (events.length > 0 && events[events.length - 1].id === finalPosition) ||
          ack.position === finalPosition,
      );
      const ids = v.events.map((e) => e.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids).toEqual([...ids].sort(byId));
      const state: Record<string, string> = {};
      for (const [key, e] of Object.entries(ack.snapshot ?? {})) state[key] = e.id;
      for (const e of v.events) {
        expect(byId(e.id, ack.position!)).toBeGreaterThan(0);
        state[`host:${(e.data as { host: string }).host}`] = e.id;
      }
      expect(state).toEqual(
        Object.fromEntries(Object.entries(finalState).map(([k, e]) => [k, e.id])),
      );
    }
  });
});

function byId(a: string, b: string): number {
  const [am, as] = a.split('-').map(BigInt);
  const [bm, bs] = b.split('-').map(BigInt);
  return am === bm ? Number(as - bs) : am < bm ? -1 : 1;
}
