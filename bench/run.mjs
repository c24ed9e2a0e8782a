// npm run bench [-- --viewers 200 --rate 500 --seconds 10]
// One scenario, run against the gateway and the baseline in the same run:
// a private redis-server, two replicas, a separate load process of viewers,
// a fixed publish rate over 10 projects through HTTP. Prints one table and
// the ratio ours/baseline.
import { spawn, fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { join, dirname } from 'node:path';
import jwt from 'jsonwebtoken';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const args = Object.fromEntries(
  process.argv
    .slice(2)
    .reduce(
      (acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc),
      [],
    ),
);
const VIEWERS = Number(args.viewers ?? 200);
const RATE = Number(args.rate ?? 500);
const SECONDS = Number(args.seconds ?? 10);
const PROJECTS = Array.from({ length: 10 }, (_, i) => `bench${i}`);
const SECRET = randomBytes(32).toString('hex');
const CLK = 100; // clock ticks per second for /proc/<pid>/stat

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

function startProcess(cmd, argv, env, readyText) {
  const child = spawn(cmd, argv, {
    cwd: root,
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  return new Promise((resolve, reject) => {
    const onData = (c) => {
      out += c.toString();
      if (out.includes(readyText)) {
        child.stdout.off('data', onData);
        child.stdout.resume();
        resolve(child);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (c) => (out += c.toString()));
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`${cmd} exited ${code}: ${out}`)));
  });
}

function cpuAndRss(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const cpu = (Number(stat[11]) + Number(stat[12])) / CLK;
  const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;
  return { cpu, rss };
}

async function runScenario(name, startReplica, redisUrl) {
  const replicas = [];
  for (let i = 0; i < 2; i++) replicas.push(await startReplica(await freePort(), redisUrl));
  const urls = replicas.map((r) => r.url);
  const viewerToken = jwt.sign({ sub: 'bench-viewer', projects: ['*'] }, SECRET, {
    expiresIn: 3600,
  });
  const serviceToken = jwt.sign(
    { sub: 'bench-publisher', projects: ['*'], scope: 'events:publish' },
    SECRET,
    { expiresIn: 3600 },
  );
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
    const p = fetch(`${urls[n % urls.length]}/api/projects/${projectId}/events`, {
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
  for (const r of replicas) r.child.kill('SIGKILL');
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

const gateway = async (port, redisUrl) => {
  const child = await startProcess(
    process.execPath,
    ['dist/main.js'],
    {
      PORT: String(port),
      HOST: '127.0.0.1',
      REDIS_URL: redisUrl,
      REDIS_KEY_PREFIX: `bench${Date.now()}`,
      JWT_SECRET: SECRET,
      LOG_LEVEL: 'info',
      RATE_LIMIT_PUBLISH_PER_SECOND: '100000',
    },
    '"msg":"listening"',
  );
  return { child, url: `http://127.0.0.1:${port}` };
};
const baseline = async (port, redisUrl) => {
  const child = await startProcess(
    process.execPath,
    ['bench/baseline-server.mjs'],
    { PORT: String(port), REDIS_URL: redisUrl },
    '"listening"',
  );
  return { child, url: `http://127.0.0.1:${port}` };
};

const redisPort = await freePort();
const redis = await startProcess(
  'redis-server',
  ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
  {},
  'Ready to accept connections',
).catch((err) => {
  console.error(
    `redis-server did not start (apt-get update && apt-get install -y redis-server): ${err.message}`,
  );
  process.exit(1);
});
const redisUrl = `redis://127.0.0.1:${redisPort}`;

console.log(
  `scenario: ${VIEWERS} viewers over ${PROJECTS.length} projects, 2 replicas, ${RATE} events/s for ${SECONDS}s (each event to ${VIEWERS / PROJECTS.length} viewers)\n`,
);
const results = [];
try {
  results.push(await runScenario('gateway', gateway, redisUrl));
  results.push(await runScenario('baseline', baseline, redisUrl));
} finally {
  redis.kill('SIGKILL');
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
const [ours, base] = results;
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
if (args.json) {
  const { writeFileSync } = await import('node:fs');
  writeFileSync(
    args.json,
    JSON.stringify({ viewers: VIEWERS, rate: RATE, seconds: SECONDS, results }, null, 2),
  );
}
process.exit(0);
