// CPU per publish request on one replica, ours against the baseline, no
// viewers: the cost of the HTTP publish path alone. `npm run build` first.
//
//   node bench/publish-cost.mjs [--requests 8000] [--profile]
//
// Each request carries 10 events (as the ingest scenario's do), 32 in flight
// over keep-alive connections. --profile writes V8 CPU profiles of both
// servers to artifacts/profiles.
import { Agent } from 'node:http';
import { randomBytes } from 'node:crypto';
import jwt from 'jsonwebtoken';
import {
  baseline,
  cpuAndRss,
  freePort,
  gateway,
  parseArgs,
  postJson,
  PROFILE_NODE_ARGS,
  startRedis,
} from './lib.mjs';

const args = parseArgs();
const requests = Number(args.requests ?? 8000);
const nodeArgs = 'profile' in args ? PROFILE_NODE_ARGS : [];
const IN_FLIGHT = 32;
const WARM_UP = 2000;

// Generated per run: nothing to keep secret, nothing checked in.
const secret = randomBytes(32).toString('hex');
const token = jwt.sign(
  { sub: 'bench-publisher', projects: ['*'], scope: 'events:publish' },
  secret,
  {
    expiresIn: 3600,
  },
);
const agent = new Agent({ keepAlive: true, maxSockets: IN_FLIGHT });
const body = JSON.stringify(
  Array.from({ length: 10 }, (_, i) => ({
    type: 'task.status.changed',
    data: { taskId: String(i), from: null, to: 'planning' },
  })),
);

/** `n` requests over 100 projects, IN_FLIGHT at a time; resolves with the refused count. */
async function publish(url, n) {
  let refused = 0;
  let next = 0;
  const lane = async () => {
    while (next < n) {
      const i = next++;
      const status = await postJson(`${url}/api/projects/p${i % 100}/events`, {
        agent,
        token,
        body,
      });
      if (status !== 202) refused++;
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
  return refused;
}

const redis = await startRedis();
const rows = [];
for (const kind of ['gateway', 'baseline']) {
  const start = kind === 'gateway' ? gateway(secret, nodeArgs) : baseline(nodeArgs);
  const { child, url } = await start(await freePort(), redis.url, `cost${Date.now()}`);
  await publish(url, WARM_UP);
  const before = { server: cpuAndRss(child.pid).cpu, redis: cpuAndRss(redis.child.pid).cpu };
  const started = performance.now();
  const refused = await publish(url, requests);
  const seconds = (performance.now() - started) / 1000;
  const serverMs = ((cpuAndRss(child.pid).cpu - before.server) / requests) * 1000;
  const redisMs = ((cpuAndRss(redis.child.pid).cpu - before.redis) / requests) * 1000;
  rows.push({ kind, perSecond: requests / seconds, serverMs, redisMs, refused });
  await new Promise((resolve) => {
    child.once('exit', resolve);
    // SIGINT: a clean exit, so a profiled server writes its profile.
    child.kill('SIGINT');
  });
}
redis.child.kill();

console.log(`publish cost: ${requests} requests of 10 events, ${IN_FLIGHT} in flight, one replica`);
console.log('figure                        gateway   baseline  ours/base');
const [ours, base] = rows;
for (const [name, key, digits] of [
  ['requests/s', 'perSecond', 0],
  ['server CPU ms / request', 'serverMs', 3],
  ['redis CPU ms / request', 'redisMs', 3],
  ['refused', 'refused', 0],
]) {
  const ratio = base[key] ? (ours[key] / base[key]).toFixed(2) : 'n/a';
  console.log(
    `${name.padEnd(26)}${ours[key].toFixed(digits).padStart(10)}${base[key].toFixed(digits).padStart(11)}${ratio.padStart(11)}`,
  );
}
process.exit(0);
