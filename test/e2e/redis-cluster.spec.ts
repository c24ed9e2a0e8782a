import type { Cluster } from 'ioredis';
import { GatewayProcess } from '../support/gateway-process.js';
import { http } from '../support/http.js';
import { RedisClusterServer } from '../support/redis-cluster.js';
import { serviceToken, token } from '../support/tokens.js';
import { Viewer } from '../support/viewer.js';

/**
 * Two replicas on a three-master Redis Cluster (REDIS_CLUSTER_NODES): each
 * project's stream, state and live channel share one hash slot, on whichever
 * master owns it; fan-out and resume work across replicas and masters.
 */
describe('on a Redis Cluster', () => {
  let cluster: RedisClusterServer;
  let client: Cluster;
  let replicas: GatewayProcess[];
  const prefix = `rc${process.pid}`;
  const viewers: Viewer[] = [];
  const svc = serviceToken();
  // Enough projects to land on every master.
  const projects = Array.from({ length: 12 }, (_, i) => `rc-project-${i}`);

  const publish = async (via: GatewayProcess, projectId: string, taskId: string) => {
    const res = await http('POST', `${via.url}/api/projects/${projectId}/events`, {
      token: svc,
      body: { type: 'task.status.changed', data: { taskId, from: null, to: 'active' } },
    });
    expect(res.status).toBe(202);
    return (res.body.ids as string[])[0];
  };

  beforeAll(async () => {
    cluster = await RedisClusterServer.start();
    client = cluster.client();
    const env = { REDIS_CLUSTER_NODES: cluster.nodes, REDIS_KEY_PREFIX: prefix };
    replicas = await Promise.all([0, 1].map(() => GatewayProcess.start(env)));
  }, 90_000);

  afterEach(() => viewers.splice(0).forEach((v) => v.close()));

  afterAll(async () => {
    client?.disconnect();
    await Promise.all((replicas ?? []).map((r) => r.kill()));
    await cluster?.stop();
  });

  it('spreads projects over the masters, each project on one slot', async () => {
    expect(replicas[0].logs.join('\n')).toContain('"mode":"redis-cluster"');
    const masters = new Set<number>();
    for (const p of projects) {
      await publish(replicas[0], p, 'seed');
      const slot = Number(await client.call('CLUSTER', 'KEYSLOT', `${prefix}:{${p}}:events`));
      expect(Number(await client.call('CLUSTER', 'KEYSLOT', `${prefix}:{${p}}:live`))).toBe(slot);
      expect(Number(await client.call('CLUSTER', 'KEYSLOT', `${prefix}:{${p}}:state`))).toBe(slot);
      // The owner named by the start of its slot range: CLUSTER SHARDS goes to
      // any node, and each node lists the shards in its own order.
      let owner = -1;
      for (const shard of (await client.call('CLUSTER', 'SHARDS')) as unknown[]) {
        const slots = (shard as unknown[])[1] as number[];
        for (let i = 0; i < slots.length; i += 2)
          if (slot >= slots[i] && slot <= slots[i + 1]) owner = slots[i];
      }
      expect(owner).toBeGreaterThanOrEqual(0);
      masters.add(owner);
    }
    expect(masters.size).toBe(3);
  });

  it('fans out across replicas for projects on every master', async () => {
    const a = await Viewer.connect(replicas[0].url, token());
    const b = await Viewer.connect(replicas[1].url, token());
    viewers.push(a, b);
    for (const p of projects) {
      expect(await a.subscribe({ projectId: p })).toMatchObject({ ok: true });
      expect(await b.subscribe({ projectId: p })).toMatchObject({ ok: true });
    }
    for (const [i, p] of projects.entries()) await publish(replicas[i % 2], p, `live-${i}`);
    for (const v of [a, b]) {
      await v.untilCount(projects.length);
      expect(new Set(v.events.map((e) => e.projectId))).toEqual(new Set(projects));
    }
  });

  it('resumes on the other replica with exactly the missed events', async () => {
    const p = projects[5];
    const a = await Viewer.connect(replicas[0].url, token());
    viewers.push(a);
    const ack = await a.subscribe({ projectId: p });
    expect(ack).toMatchObject({ ok: true });
    const first = await publish(replicas[1], p, 'before');
    await a.until((events) => events.some((e) => e.id === first));
    a.close();
    const missed = [await publish(replicas[0], p, 'm1'), await publish(replicas[1], p, 'm2')];
    const b = await Viewer.connect(replicas[1].url, token());
    viewers.push(b);
    expect(await b.subscribe({ projectId: p, since: first })).toMatchObject({
      ok: true,
      position: first,
      replayed: 2,
    });
    await b.untilCount(2);
    expect(b.events.map((e) => e.id)).toEqual(missed);
  });
});
