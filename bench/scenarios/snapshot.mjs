// snapshot: what one read of a large project's snapshot costs. One replica,
// one project of `entities` entities (one `agent.status.changed` per agent).
// First `sequential` reads one after another (latency, bytes, server CPU per
// read), then a burst of `burst` concurrent reads by as many tokens (ours
// share one store read per project on a replica), then the same burst by one
// token (ours rate limits reads per token).
// The baseline serves the same state the way a hand-written endpoint would:
// HGETALL of one hash (seeded straight into Redis), JSON out.
import jwt from 'jsonwebtoken';
import { createClient } from 'redis';
import { cpuAndRss, quantile } from '../lib.mjs';
import { startServers, stopServers } from './servers.mjs';

export async function snapshot(ctx, kind, { entities, sequential, burst }) {
  const projectId = `snap${Date.now()}`;
  const [replica] = await startServers(kind, 1, ctx.redis.url, ctx);
  try {
    await seed(ctx, kind, replica.url, projectId, entities);
    const url = `${replica.url}/api/projects/${projectId}/snapshot`;
    const tokens = Array.from({ length: burst }, (_, i) =>
      jwt.sign({ sub: `bench-reader-${i}`, projects: ['*'] }, ctx.secret, { expiresIn: 3600 }),
    );
    const read = async (token) => {
      const started = performance.now();
      const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
      const body = await res.arrayBuffer();
      return { status: res.status, bytes: body.byteLength, ms: performance.now() - started };
    };
    const cpu = () => ({
      replica: cpuAndRss(replica.pid).cpu,
      redis: cpuAndRss(ctx.redis.child.pid).cpu,
    });

    await read(tokens[0]); // warm-up: connections, JIT, script cache
    let before = cpu();
    const latencies = [];
    let bytes = 0;
    for (let i = 0; i < sequential; i++) {
      const r = await read(tokens[i % tokens.length]);
      if (r.status !== 200) throw new Error(`snapshot read answered ${r.status}`);
      latencies.push(r.ms);
      bytes = r.bytes;
    }
    let after = cpu();
    const sorted = latencies.sort((a, b) => a - b);
    const result = {
      entities,
      bytes,
      p50: quantile(sorted, 0.5),
      p99: quantile(sorted, 0.99),
      replicaCpuMsPerRead: ((after.replica - before.replica) * 1000) / sequential,
      redisCpuMsPerRead: ((after.redis - before.redis) * 1000) / sequential,
    };

    before = cpu();
    let started = performance.now();
    const many = await Promise.all(tokens.map((t) => read(t)));
    result.burstWallMs = performance.now() - started;
    after = cpu();
    result.burstOk = many.filter((r) => r.status === 200).length;
    result.burstReplicaCpuMs = (after.replica - before.replica) * 1000;
    result.burstRedisCpuMs = (after.redis - before.redis) * 1000;

    started = performance.now();
    const one = await Promise.all(tokens.map(() => read(tokens[0])));
    result.oneTokenOk = one.filter((r) => r.status === 200).length;
    result.oneTokenRefused = one.filter((r) => r.status === 429).length;
    return result;
  } finally {
    await stopServers([replica], ctx.profile);
  }
}

async function seed(ctx, kind, url, projectId, entities) {
  const events = Array.from({ length: entities }, (_, i) => ({
    type: 'agent.status.changed',
    data: { agentId: `agent-${i}`, status: 'busy', previousStatus: 'idle' },
  }));
  if (kind === 'gateway') {
    for (let i = 0; i < events.length; i += 100) {
      const res = await fetch(`${url}/api/projects/${projectId}/events`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${ctx.serviceToken}`,
        },
        body: JSON.stringify(events.slice(i, i + 100)),
      });
      if (res.status !== 202) throw new Error(`seeding answered ${res.status}`);
    }
    return;
  }
  const client = createClient({ url: ctx.redis.url });
  await client.connect();
  try {
    const occurredAt = new Date().toISOString();
    for (let i = 0; i < events.length; i += 1000) {
      const fields = {};
      events.slice(i, i + 1000).forEach((event, j) => {
        const envelope = {
          id: `${Date.now()}-${i + j}`,
          projectId,
          occurredAt,
          source: 'bench',
          ...event,
        };
        fields[`agent:${event.data.agentId}`] = JSON.stringify(envelope);
      });
      await client.hSet(`baseline:{${projectId}}:state`, fields);
    }
  } finally {
    await client.quit();
  }
}
