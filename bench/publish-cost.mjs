// CPU per publish request on one replica, ours against the baseline, no
// viewers: the cost of the HTTP publish path alone. `npm run build` first.
//
//   node bench/publish-cost.mjs [--requests 8000] [--profile]
//
// Each request carries 10 events (as the ingest scenario's do), 32 in flight
// over keep-alive connections. --profile writes V8 CPU profiles of both
// servers to artifacts/profiles.
//
// Then the write variants, one event per request (each a new entity), on
// the same gateway: plain, conditional (`If-None-Match: *`, checked in the
// append script), idempotent (a new `Idempotency-Key` each, recorded in the
// same script), both; and the baseline with the same one-event body.
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

/** One request's body and headers; `i` makes each unique where a variant needs it. */
const TEN_EVENTS = () => ({ body, headers: {} });

let run = 0;
/** A one-event write of a new task; `conditional` and `idempotent` add the headers. */
const oneEvent =
  ({ conditional = false, idempotent = false } = {}) =>
  (i) => ({
    body: JSON.stringify({
      type: 'task.status.changed',
      data: { taskId: `r${run}-${i}`, from: null, to: 'planning' },
    }),
    headers: {
      ...(conditional ? { 'if-none-match': '*' } : {}),
      ...(idempotent ? { 'idempotency-key': `r${run}-${i}` } : {}),
    },
  });

/** `n` requests over 100 projects, IN_FLIGHT at a time; resolves with the refused count. */
async function publish(url, n, make = TEN_EVENTS) {
  let refused = 0;
  let next = 0;
  run++;
  const lane = async () => {
    while (next < n) {
      const i = next++;
      const status = await postJson(`${url}/api/projects/p${i % 100}/events`, {
        agent,
        token,
        ...make(i),
      });
      if (status !== 202) refused++;
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
  return refused;
}

/** Requests per second, server and Redis CPU ms per request, refusals: one measured pass. */
async function measure(child, url, make) {
  await publish(url, WARM_UP, make);
  const before = { server: cpuAndRss(child.pid).cpu, redis: cpuAndRss(redis.child.pid).cpu };
  const started = performance.now();
  const refused = await publish(url, requests, make);
  const seconds = (performance.now() - started) / 1000;
  const serverMs = ((cpuAndRss(child.pid).cpu - before.server) / requests) * 1000;
  const redisMs = ((cpuAndRss(redis.child.pid).cpu - before.redis) / requests) * 1000;
  return { perSecond: requests / seconds, serverMs, redisMs, refused };
}

const VARIANTS = [
  ['plain', oneEvent()],
  ['If-None-Match: *', oneEvent({ conditional: true })],
  ['Idempotency-Key', oneEvent({ idempotent: true })],
  ['both', oneEvent({ conditional: true, idempotent: true })],
];

const redis = await startRedis();
const rows = [];
const variants = [];
for (const kind of ['gateway', 'baseline']) {
  const start = kind === 'gateway' ? gateway(secret, nodeArgs) : baseline(nodeArgs);
  const { child, url } = await start(await freePort(), redis.url, `cost${Date.now()}`);
  rows.push({ kind, ...(await measure(child, url, TEN_EVENTS)) });
  for (const [name, make] of kind === 'gateway' ? VARIANTS : [['plain', oneEvent()]]) {
    variants.push({ name: `${kind} ${name}`, ...(await measure(child, url, make)) });
  }
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
console.log('');
console.log(
  `write variants: ${requests} requests of 1 event (a new task each), ${IN_FLIGHT} in flight`,
);
console.log('variant                     requests/s  server ms/req  redis ms/req  refused');
for (const v of variants) {
  console.log(
    `${v.name.padEnd(26)}${v.perSecond.toFixed(0).padStart(12)}${v.serverMs.toFixed(3).padStart(15)}${v.redisMs.toFixed(3).padStart(14)}${String(v.refused).padStart(9)}`,
  );
}
process.exit(0);
