// npm run bench [-- --only fanout,ingest,connections,recovery,snapshot --quick --seconds 4
//                  --json out.json --profile --pin --gateway-env NAME=value,NAME=value]
// --pin: servers (replicas, Redis) and load processes on disjoint cores (taskset).
// --start-rate R, --max-steps N: where the fan-out climb starts and how many steps it may take
//   (--max-steps 1 --profile profiles one rate).
// --redis-cluster [3]: both servers on a private Redis Cluster of that many masters (the
//   baseline with the adapter's sharded form); fanout and ingest only.
// --gateway-env: settings for the gateway's replicas (BATCH_WINDOW_MS=10, say), to compare them.
// The benchmark suite. Every scenario runs against the gateway and against the
// baseline (plain Socket.IO + @socket.io/redis-adapter, bench/baseline-server.mjs)
// in the same run, on one private redis-server, with the same load processes;
// one table per scenario gives each figure and the ratio ours/baseline.
// Scenarios are described in bench/scenarios/*.mjs and docs/performance.md.
// --fanout 1000,5000 picks the fan-out sizes; --quick shrinks every scenario (a smoke run, not figures to quote).
// --profile: the replicas (ours and the baseline's) write V8 CPU profiles to artifacts/profiles.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import jwt from 'jsonwebtoken';
import {
  coreSplit,
  parseArgs,
  pin,
  PROFILE_NODE_ARGS,
  startRedis,
  startRedisCluster,
} from './lib.mjs';
import { STEP, connections, fanout, ingest } from './scenarios/load-scenarios.mjs';
import { recovery } from './scenarios/recovery.mjs';
import { snapshot } from './scenarios/snapshot.mjs';
import { printTable } from './table.mjs';

const args = parseArgs();
const quick = 'quick' in args;
const seconds = Number(args.seconds ?? (quick ? 2 : 5));
const onCluster = 'redis-cluster' in args;
const only = new Set(
  (
    args.only ?? (onCluster ? 'fanout,ingest' : 'fanout,ingest,connections,recovery,snapshot')
  ).split(','),
);
if (onCluster && only.has('snapshot')) {
  console.error('--redis-cluster: the snapshot scenario seeds one Redis; leave it out (--only)');
  process.exit(2);
}
const secret = randomBytes(32).toString('hex');
const sign = (claims) => jwt.sign(claims, secret, { expiresIn: 7200 });
const profile = 'profile' in args;
const cores = 'pin' in args ? coreSplit() : null;
const gatewayEnv = {};
for (const pair of (args['gateway-env'] ?? '').split(',').filter(Boolean)) {
  const [, name, value] = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(pair) ?? [];
  if (name === undefined) {
    console.error(`--gateway-env: "${pair}" is not NAME=value`);
    process.exit(2);
  }
  gatewayEnv[name] = value;
}

const ctx = {
  secret,
  profile,
  nodeArgs: profile ? PROFILE_NODE_ARGS : [],
  viewerToken: sign({ sub: 'bench-viewer', projects: ['*'] }),
  serviceToken: sign({ sub: 'bench-publisher', projects: ['*'], scope: 'events:publish' }),
  log: (line) => console.log(line),
  redis: onCluster
    ? await startRedisCluster(Number(args['redis-cluster']) || 3)
    : await startRedis(),
  cores,
  gatewayEnv,
};
if (onCluster)
  console.log(`Redis Cluster: ${ctx.redis.children.length} masters (${ctx.redis.url.slice(8)})`);
if (Object.keys(gatewayEnv).length > 0)
  console.log(`gateway replicas with ${JSON.stringify(gatewayEnv)}`);
if (cores) {
  for (const child of ctx.redis.children) pin(child.pid, cores.servers);
  console.log(
    `pinned: replicas and Redis on cores ${cores.servers}; viewers and publisher on cores ${cores.load}`,
  );
} else if ('pin' in args) console.log('not pinned: one core, or no taskset');

/** Ingest: 10,000 events/s over 100 projects x 10 viewers, with producers that send `perRequest` events at most per request. */
const ingestPlan = (name, how, perRequest) => ({
  key: 'ingest',
  name,
  title: `ingest, ${how}: ${quick ? 1000 : 10000} events/s over 100 projects x 10 viewers on 3 replicas, ${seconds * 2} s`,
  run: (kind) =>
    ingest(ctx, kind, {
      rate: quick ? 1000 : 10000,
      seconds: seconds * 2,
      projects: 100,
      viewersPerProject: 10,
      perRequest,
    }),
});

const plans = [
  ...String(args.fanout ?? '1000,5000')
    .split(',')
    .map(Number)
    .map((viewers) => {
      const startRate = Number(args['start-rate'] ?? (viewers >= 5000 ? 50 : 250));
      return {
        key: 'fanout',
        name: `fanout ${viewers}`,
        title: `fan-out: ${viewers} viewers over 10 projects on 3 replicas, publish rate stepped x${STEP} from ${startRate} ev/s, ${seconds} s a step, until p99 > 100 ms or a loss; figures at the highest passing step`,
        run: (kind) =>
          fanout(ctx, kind, {
            viewers: quick ? viewers / 10 : viewers,
            startRate,
            maxSteps: Number(args['max-steps'] ?? (quick ? 2 : 12)),
            seconds,
          }),
      };
    }),
  ingestPlan('ingest batched', 'batched (10 events per request, up to 100 allowed)', 100),
  ingestPlan('ingest one per request', 'one event per request', 1),
  {
    key: 'connections',
    name: 'connections',
    title: `connections: ${quick ? 1000 : 10000} viewers over 100 projects on 3 replicas, idle, then one event per viewer every 2 s for ${seconds * 2} s`,
    run: (kind) =>
      connections(ctx, kind, {
        viewers: quick ? 1000 : 10000,
        projects: 100,
        everySeconds: 2,
        seconds: seconds * 2,
      }),
  },
  {
    key: 'recovery',
    name: 'recovery',
    title:
      'recovery: 150 viewers over 10 projects, 3 replicas, 200 events/s for 8 s, replica 1 killed (SIGKILL) at 40%; viewers move to the next replica (ours resubscribes with since)',
    run: (kind) => recovery(ctx, kind, { viewers: 150, rate: 200, seconds: quick ? 4 : 8 }),
  },
  {
    key: 'snapshot',
    name: 'snapshot',
    title: `snapshot: one project of ${quick ? 2000 : 10000} entities on 1 replica; 50 reads one by one, then 200 at once by 200 tokens, then 200 at once by one token`,
    run: (kind) =>
      snapshot(ctx, kind, { entities: quick ? 2000 : 10000, sequential: 50, burst: 200 }),
  },
].filter((plan) => only.has(plan.key));

/**
 * The primary efficiency figure: server CPU (replicas plus Redis) per 1,000
 * deliveries, both at the baseline's highest passing rate.
 */
function costAtBaselineBest(gateway, baseline) {
  const rate = baseline.maxPassingRate;
  const at = (r) => r.steps.filter((s) => s.rate === rate).at(-1);
  const [ours, theirs] = [at(gateway), at(baseline)];
  if (!rate || !ours || !theirs) return console.log('  cost per delivery: no common passing rate');
  console.log(
    `  server CPU per 1,000 deliveries at ${rate} ev/s (the baseline's highest passing rate): gateway ${ours.serverCpuMsPer1000.toFixed(1)} ms, baseline ${theirs.serverCpuMsPer1000.toFixed(1)} ms, ratio ${(ours.serverCpuMsPer1000 / theirs.serverCpuMsPer1000).toFixed(2)}`,
  );
}

const results = {};
try {
  for (const plan of plans) {
    console.log(`\n${plan.title}`);
    const gateway = await plan.run('gateway');
    const baseline = await plan.run('baseline');
    results[plan.name] = { gateway, baseline };
    printTable(plan.key, gateway, baseline);
    if (plan.key === 'fanout') costAtBaselineBest(gateway, baseline);
  }
} finally {
  for (const child of ctx.redis.children) child.kill('SIGKILL');
}
if (args.json) {
  writeFileSync(args.json, JSON.stringify({ quick, seconds, results }, null, 2));
  console.log(`\nwrote ${args.json}`);
}
process.exit(0);
