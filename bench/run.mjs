// npm run bench [-- --viewers 200 --rate 500 --seconds 10 --only steady|recovery --json out.json --profile]
// Two scenarios, each run against the gateway and the baseline (plain
// Socket.IO + redis-adapter) in the same run, on one private redis-server:
// - steady: two replicas, a separate load process of viewers, a fixed publish
//   rate over 10 projects through HTTP; one table with the ratio ours/baseline.
// - recovery: three replicas, one killed (SIGKILL) mid-run; viewers move to the
//   next replica and subscribe again (ours with `since`); prints the
//   reconnection time distribution and the events lost.
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { join, dirname } from 'node:path';
import jwt from 'jsonwebtoken';
import {
  baseline as startBaseline,
  cpuAndRss,
  freePort,
  gateway as gatewayFor,
  parseArgs,
  quantile,
  startRedis,
} from './lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const args = parseArgs();
const VIEWERS = Number(args.viewers ?? 200);
const RATE = Number(args.rate ?? 500);
const SECONDS = Number(args.seconds ?? 10);
const PROJECTS = Array.from({ length: 10 }, (_, i) => `bench${i}`);
const SECRET = randomBytes(32).toString('hex');
const viewerToken = jwt.sign({ sub: 'bench-viewer', projects: ['*'] }, SECRET, {
  expiresIn: 3600,
});
const serviceToken = jwt.sign(
  { sub: 'bench-publisher', projects: ['*'], scope: 'events:publish' },
  SECRET,
  { expiresIn: 3600 },
);

async function runScenario(name, startReplica, redisUrl) {
  const replicas = [];
  const prefix = `bench${Date.now()}`;
  for (let i = 0; i < 2; i++) {
    replicas.push(await startReplica(await freePort(), redisUrl, prefix));
  }
  const urls = replicas.map((r) => r.url);
  const load = fork(
    join(here, 'viewers.mjs'),
    [JSON.stringify({ urls, viewers: VIEWERS, projects: PROJECTS, token: viewerToken })],
    {
      stdio: 'inherit',
    },
  );
  await new Promise((resolve, reject) => {
    load.once('message', resolve);
    load.once('exit', (c) => reject(new Error(`viewers exited ${c}`)));
  });
  const before = [...replicas.map((r) => cpuAndRss(r.child.pid)), cpuAndRss(load.pid)];
  const sent = Object.fromEntries(PROJECTS.map((p) => [p, []]));
  const total = RATE * SECONDS;
  const started = Date.now();
  let failures = 0;
  const inflight = new Set();
  for (let n = 0; n < total; n++) {
    const due = started + (n * 1000) / RATE;
    const wait = due - Date.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const projectId = PROJECTS[n % PROJECTS.length];
    const taskId = `b${n}`;
    sent[projectId].push(taskId);
    // Round-robin per round of projects, so each project is published through
    // every replica and its events cross replicas to reach its viewers.
    const via = urls[Math.floor(n / PROJECTS.length) % urls.length];
    const p = fetch(`${via}/api/projects/${projectId}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${serviceToken}` },
      body: JSON.stringify({
        type: 'task.status.changed',
        data: { taskId, from: null, to: 'planning' },
      }),
    })
      .then((res) => (res.status === 202 ? res.arrayBuffer() : (failures++, res.arrayBuffer())))
      .catch(() => failures++)
      .finally(() => inflight.delete(p));
    inflight.add(p);
  }
  await Promise.all(inflight);
  const publishSeconds = (Date.now() - started) / 1000;
  // Wait until the viewers hold every expected delivery, or give up after 5 s
  // (what is missing then is reported as lost).
  const expectedDeliveries = PROJECTS.reduce(
    (sum, p, i) => sum + sent[p].length * Math.ceil((VIEWERS - i) / PROJECTS.length),
    0,
  );
  await new Promise((resolve) => {
    const deadline = setTimeout(resolve, 5000);
    load.on('message', (m) => m.type === 'complete' && (clearTimeout(deadline), resolve()));
    load.send({ type: 'expect', total: expectedDeliveries });
  });
  const after = [...replicas.map((r) => cpuAndRss(r.child.pid)), cpuAndRss(load.pid)];
  const report = await new Promise((resolve) => {
    load.on('message', (m) => m.type === 'report' && resolve(m));
    load.send({ type: 'report' });
  });
  let lost = 0;
  let expected = 0;
  for (const v of report.viewers) {
    const got = new Set(v.ids);
    for (const id of sent[v.projectId]) {
      expected++;
      if (!got.has(id)) lost++;
    }
  }
  const lat = report.latencies.sort((a, b) => a - b);
  const q = (x) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(x * lat.length))] : NaN);
  await Promise.all(replicas.map((r) => stopReplica(r)));
  return {
    name,
    published: total - failures,
    publishFailures: failures,
    delivered: report.received,
    deliveredPerSec: report.received / publishSeconds,
    expected,
    lost,
    duplicates: report.duplicates,
    p50: q(0.5),
    p99: q(0.99),
    max: lat.at(-1) ?? NaN,
    procs: after.map((a, i) => ({
      role: i < replicas.length ? `replica${i + 1}` : 'viewers',
      cpuSeconds: a.cpu - before[i].cpu,
      rssMb: a.rss,
    })),
  };
}

/**
 * Recovery: 3 replicas, viewers spread over them, events published through the
 * third at a steady rate; the first is killed with SIGKILL after 40% of the
 * run. Viewers on it move to the next replica and subscribe again.
 */
async function runRecovery(name, startReplica, redisUrl, resume) {
  const viewers = Math.max(30, Math.round(VIEWERS * 0.75));
  const rate = Math.round(RATE * 0.4);
  const seconds = Math.max(6, Math.round(SECONDS * 0.8));
  const replicas = [];
  const prefix = `recovery${Date.now()}`;
  for (let i = 0; i < 3; i++) {
    replicas.push(await startReplica(await freePort(), redisUrl, prefix));
  }
  const load = fork(
    join(here, 'resuming-viewers.mjs'),
    [
      JSON.stringify({
        urls: replicas.map((r) => r.url),
        viewers,
        projects: PROJECTS,
        token: viewerToken,
        resume,
      }),
    ],
    { stdio: 'inherit' },
  );
  await new Promise((resolve, reject) => {
    load.once('message', resolve);
    load.once('exit', (c) => reject(new Error(`viewers exited ${c}`)));
  });
  const sent = Object.fromEntries(PROJECTS.map((p) => [p, []]));
  const total = rate * seconds;
  const killAt = Math.floor(total * 0.4);
  const started = Date.now();
  let failures = 0;
  const inflight = new Set();
  for (let n = 0; n < total; n++) {
    const due = started + (n * 1000) / rate;
    const wait = due - Date.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    if (n === killAt) {
      replicas[0].child.kill('SIGKILL');
      load.send({ type: 'killed', at: Date.now() });
    }
    const projectId = PROJECTS[n % PROJECTS.length];
    const taskId = `r${n}`;
    const p = fetch(`${replicas[2].url}/api/projects/${projectId}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${serviceToken}` },
      body: JSON.stringify({
        type: 'task.status.changed',
        data: { taskId, from: null, to: 'planning' },
      }),
    })
      .then((res) => {
        if (res.status === 202) sent[projectId].push(taskId);
        else failures++;
        return res.arrayBuffer();
      })
      .catch(() => failures++)
      .finally(() => inflight.delete(p));
    inflight.add(p);
  }
  await Promise.all(inflight);
  const expectedDeliveries = PROJECTS.reduce(
    (sum, p, i) => sum + sent[p].length * Math.ceil((viewers - i) / PROJECTS.length),
    0,
  );
  await new Promise((resolve) => {
    const deadline = setTimeout(resolve, 3000);
    load.on('message', (m) => m.type === 'complete' && (clearTimeout(deadline), resolve()));
    load.send({ type: 'expect', total: expectedDeliveries });
  });
  const report = await new Promise((resolve) => {
    load.on('message', (m) => m.type === 'report' && resolve(m));
    load.send({ type: 'report' });
  });
  let lost = 0;
  for (const v of report.viewers) {
    const got = new Set(v.ids);
    for (const id of sent[v.projectId]) if (!got.has(id)) lost++;
  }
  for (const r of replicas) r.child.kill('SIGKILL');
  const times = report.reconnectMs.sort((a, b) => a - b);
  return {
    name,
    viewers,
    rate,
    seconds,
    moved: report.moved,
    resubscribed: times.length,
    reconnectP50: quantile(times, 0.5),
    reconnectP95: quantile(times, 0.95),
    reconnectMax: times.at(-1) ?? NaN,
    delivered: report.received,
    expected: expectedDeliveries,
    lost,
    duplicates: report.duplicates,
    publishFailures: failures,
  };
}

// --profile: the gateway's replicas write V8 CPU profiles to artifacts/profiles
// (open them in Chrome DevTools or speedscope) when the steady scenario ends.
const PROFILE = 'profile' in args;
const gateway = gatewayFor(
  SECRET,
  PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${join(here, '..', 'artifacts', 'profiles')}`] : [],
);

/** Stops a replica; a profiled one exits cleanly (SIGINT) so V8 writes its profile. */
function stopReplica(replica) {
  if (!PROFILE) {
    replica.child.kill('SIGKILL');
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    replica.child.once('exit', resolve);
    replica.child.kill('SIGINT');
  });
}
const baseline = startBaseline;
const redis = await startRedis();
const redisUrl = redis.url;
const only = args.only;

const results = [];
const recovery = [];
try {
  if (only !== 'recovery') {
    console.log(
      `steady: ${VIEWERS} viewers over ${PROJECTS.length} projects, 2 replicas, ${RATE} events/s for ${SECONDS}s (each event to ${VIEWERS / PROJECTS.length} viewers)\n`,
    );
    results.push(await runScenario('gateway', gateway, redisUrl));
    results.push(await runScenario('baseline', baseline, redisUrl));
  }
  if (only !== 'steady') {
    recovery.push(await runRecovery('gateway', gateway, redisUrl, true));
    recovery.push(await runRecovery('baseline', baseline, redisUrl, false));
  }
} finally {
  redis.child.kill('SIGKILL');
}

const fmt = (n, d = 0) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');
const rows = [
  ['delivered events/s', (r) => r.deliveredPerSec, 0],
  ['delivered / expected', (r) => r.delivered, 0, (r) => `${r.delivered}/${r.expected}`],
  ['lost', (r) => r.lost, 0],
  ['duplicated', (r) => r.duplicates, 0],
  ['publish failures', (r) => r.publishFailures, 0],
  ['latency p50 ms', (r) => r.p50, 0],
  ['latency p99 ms', (r) => r.p99, 0],
  ['latency max ms', (r) => r.max, 0],
  ...[0, 1, 2].flatMap((i) => [
    [`${i < 2 ? `replica${i + 1}` : 'viewers'} CPU s`, (r) => r.procs[i].cpuSeconds, 2],
    [`${i < 2 ? `replica${i + 1}` : 'viewers'} RSS MB`, (r) => r.procs[i].rssMb, 0],
  ]),
];
const table = (rows, [ours, base]) => {
  console.log(
    `${'figure'.padEnd(24)}${'gateway'.padStart(14)}${'baseline'.padStart(14)}${'ours/base'.padStart(12)}`,
  );
  for (const [label, get, d, show] of rows) {
    const a = get(ours);
    const b = get(base);
    const ratio = b ? a / b : NaN;
    console.log(
      `${label.padEnd(24)}${(show ? show(ours) : fmt(a, d)).padStart(14)}${(show ? show(base) : fmt(b, d)).padStart(14)}${fmt(ratio, 2).padStart(12)}`,
    );
  }
};
if (results.length === 2) table(rows, results);
if (recovery.length === 2) {
  const [r] = recovery;
  console.log(
    `\nrecovery: ${r.viewers} viewers over ${PROJECTS.length} projects, 3 replicas, ${r.rate} events/s for ${r.seconds}s, replica 1 killed (SIGKILL) at 40%; viewers move to the next replica (ours resubscribes with since)\n`,
  );
  table(
    [
      ['viewers moved', (x) => x.moved, 0],
      ['resubscribed', (x) => x.resubscribed, 0],
      ['reconnect p50 ms', (x) => x.reconnectP50, 0],
      ['reconnect p95 ms', (x) => x.reconnectP95, 0],
      ['reconnect max ms', (x) => x.reconnectMax, 0],
      ['delivered / expected', (x) => x.delivered, 0, (x) => `${x.delivered}/${x.expected}`],
      ['lost', (x) => x.lost, 0],
      ['duplicated', (x) => x.duplicates, 0],
      ['publish failures', (x) => x.publishFailures, 0],
    ],
    recovery,
  );
}
if (args.json) {
  const { writeFileSync } = await import('node:fs');
  writeFileSync(
    args.json,
    JSON.stringify({ viewers: VIEWERS, rate: RATE, seconds: SECONDS, results, recovery }, null, 2),
  );
}
process.exit(0);
