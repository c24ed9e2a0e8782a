// Live events against what dashboards do today: poll. The same N dashboards
// over the same projects at the same event rate, on three replicas and one
// Redis, two ways, one after the other:
//   polling: every second each dashboard GETs the snapshot and the history
//            after its last position (as the dashboards this replaces did);
//   live:    each dashboard holds one Socket.IO connection, subscribed once
//            (snapshot, then events as they happen).
// Figures: wire bytes per dashboard per minute (both directions, counted by a
// TCP proxy in front of each replica), server CPU (replicas plus Redis) per
// dashboard, and the ratios; and the event rate at which polling would cost
// as much as live (from live's cost per event, a linear extrapolation).
// `npm run build` first.
//
//   node bench/polling-vs-live.mjs [--dashboards 200] [--projects 10] [--rate 15]
//                                  [--seconds 60] [--entities 100]
//
// --rate is events per second per project (the demo publishes about 15).
// --entities: entities each project holds before the run (its snapshot size).
import { randomBytes } from 'node:crypto';
import { request, Agent } from 'node:http';
import { createConnection, createServer } from 'node:net';
import jwt from 'jsonwebtoken';
import { io } from 'socket.io-client';
import { cpuAndRss, freePort, gateway, parseArgs, postJson, startRedis } from './lib.mjs';

const args = parseArgs();
const DASHBOARDS = Number(args.dashboards ?? 200);
const PROJECTS = Number(args.projects ?? 10);
const RATE = Number(args.rate ?? 15);
const SECONDS = Number(args.seconds ?? 60);
const ENTITIES = Number(args.entities ?? 100);
const POLL_MS = 1000;

const secret = randomBytes(32).toString('hex');
const sign = (claims) => jwt.sign(claims, secret, { expiresIn: 7200 });
const projectOf = (i) => `pl-${i % PROJECTS}`;

/** A TCP proxy in front of `port` that counts every byte through it, both ways. */
async function countingProxy(port) {
  const counted = { bytes: 0 };
  const server = createServer((client) => {
    const upstream = createConnection({ port, host: '127.0.0.1' });
    client.on('data', (c) => (counted.bytes += c.length));
    upstream.on('data', (c) => (counted.bytes += c.length));
    client.pipe(upstream).pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close);
    upstream.on('error', close);
    client.on('close', close);
    upstream.on('close', close);
  });
  const listen = await freePort();
  await new Promise((resolve) => server.listen(listen, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${listen}`, counted, close: () => server.close() };
}

function getJson(agent, url, token) {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, headers: { authorization: `Bearer ${token}` } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        if (res.statusCode !== 200) reject(new Error(`${url}: HTTP ${res.statusCode}`));
        else resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      });
    });
    req.on('error', reject);
    req.end();
  });
}

const redis = await startRedis();
const start = gateway(secret);
const replicas = [];
// One key prefix for the three: they share the streams.
for (let i = 0; i < 3; i++) replicas.push(await start(await freePort(), redis.url, 'plv'));
const proxies = await Promise.all(replicas.map((r) => countingProxy(Number(new URL(r.url).port))));
const publishToken = sign({ sub: 'pl-publisher', projects: ['*'], scope: 'events:publish' });
const tokens = Array.from({ length: DASHBOARDS }, (_, i) =>
  sign({ sub: `pl-viewer-${i}`, projects: ['*'] }),
);

// Each project's state before the run: tasks and agents, as a dashboard would show.
for (let p = 0; p < PROJECTS; p++) {
  const events = Array.from({ length: ENTITIES }, (_, i) =>
    i % 4 === 0
      ? { type: 'agent.status.changed', data: { agentId: `agent-${i}`, status: 'idle' } }
      : { type: 'task.status.changed', data: { taskId: `task-${i}`, from: null, to: 'active' } },
  );
  for (let i = 0; i < events.length; i += 100)
    await postJson(`${replicas[0].url}/api/projects/${projectOf(p)}/events`, {
      token: publishToken,
      body: JSON.stringify(events.slice(i, i + 100)),
    });
}

/** Publishes RATE events/s per project through the first replica (not through a proxy). */
function publishing() {
  let n = 0;
  let stopped = false;
  let owed = 0;
  const tick = setInterval(() => {
    if (stopped) return;
    // RATE per project per second, in 100 ms ticks: the fraction carries over.
    owed += RATE / 10;
    const count = Math.floor(owed);
    owed -= count;
    if (count === 0) return;
    for (let p = 0; p < PROJECTS; p++) {
      const events = Array.from({ length: count }, () => ({
        type: 'task.status.changed',
        data: { taskId: `task-${4 * (n++ % (ENTITIES / 4)) + 1}`, from: 'active', to: 'active' },
      }));
      postJson(`${replicas[0].url}/api/projects/${projectOf(p)}/events`, {
        token: publishToken,
        body: JSON.stringify(events),
      }).catch(() => undefined);
    }
  }, 100);
  return () => {
    stopped = true;
    clearInterval(tick);
  };
}

const serverCpu = () =>
  [...replicas.map((r) => r.child.pid), redis.child.pid].reduce(
    (sum, pid) => sum + cpuAndRss(pid).cpu,
    0,
  );
const bytes = () => proxies.reduce((sum, p) => sum + p.counted.bytes, 0);

/** One way of watching, measured over SECONDS once every dashboard is in. */
async function measure(name, begin) {
  const end = await begin();
  await new Promise((r) => setTimeout(r, 3000)); // every dashboard in and settled
  const stopPublishing = publishing();
  const [cpu0, bytes0, t0] = [serverCpu(), bytes(), Date.now()];
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const [cpu1, bytes1, t1] = [serverCpu(), bytes(), Date.now()];
  stopPublishing();
  const stats = await end();
  const minutes = (t1 - t0) / 60000;
  return {
    name,
    bytesPerDashboardMinute: (bytes1 - bytes0) / DASHBOARDS / minutes,
    cpuMsPerDashboardMinute: ((cpu1 - cpu0) * 1000) / DASHBOARDS / minutes,
    ...stats,
  };
}

const polling = await measure('polling', async () => {
  let stopped = false;
  let errors = 0;
  let polls = 0;
  const loops = Array.from({ length: DASHBOARDS }, async (_, i) => {
    const proxy = proxies[i % proxies.length];
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const base = `${proxy.url}/api/projects/${projectOf(i)}`;
    let position = (await getJson(agent, `${base}/events/history?limit=1`, tokens[i])).position;
    // Spread the polls over the second, as independent pages would be.
    await new Promise((r) => setTimeout(r, (i * POLL_MS) / DASHBOARDS));
    while (!stopped) {
      const due = Date.now() + POLL_MS;
      try {
        await getJson(agent, `${base}/snapshot`, tokens[i]);
        const page = await getJson(
          agent,
          `${base}/events/history?since=${position}&limit=1000`,
          tokens[i],
        );
        position = page.position;
        polls++;
      } catch {
        errors++;
      }
      await new Promise((r) => setTimeout(r, Math.max(0, due - Date.now())));
    }
    agent.destroy();
  });
  return async () => {
    stopped = true;
    await Promise.all(loops);
    return { errors, requests: polls * 2 };
  };
});

const live = await measure('live', async () => {
  let received = 0;
  const sockets = await Promise.all(
    Array.from(
      { length: DASHBOARDS },
      (_, i) =>
        new Promise((resolve, reject) => {
          const socket = io(proxies[i % proxies.length].url, {
            transports: ['websocket'],
            auth: { token: tokens[i] },
            reconnection: false,
          });
          socket.on('events', (events) => (received += events.length));
          socket.on('connect_error', reject);
          socket.on('connect', () => {
            socket.emit('subscribe', { projectId: projectOf(i) }, (ack) =>
              ack.ok ? resolve(socket) : reject(new Error(ack.error.code)),
            );
          });
        }),
    ),
  );
  return async () => {
    sockets.forEach((s) => s.close());
    return { errors: 0, eventsReceived: received };
  };
});

for (const p of proxies) p.close();
for (const r of replicas) r.child.kill();
redis.child.kill();

const row = (label, f, d = 0) =>
  console.log(
    `${label.padEnd(34)}${f(polling).toFixed(d).padStart(14)}${f(live).toFixed(d).padStart(14)}${(f(live) / f(polling)).toFixed(3).padStart(12)}`,
  );
console.log(
  `\npolling vs live: ${DASHBOARDS} dashboards over ${PROJECTS} projects (${ENTITIES} entities each), ${RATE} events/s per project, ${SECONDS} s each, 3 replicas`,
);
console.log(
  `${''.padEnd(34)}${'polling'.padStart(14)}${'live'.padStart(14)}${'live/poll'.padStart(12)}`,
);
row('wire bytes / dashboard / minute', (r) => r.bytesPerDashboardMinute);
row('server CPU ms / dashboard / minute', (r) => r.cpuMsPerDashboardMinute, 1);
console.log(
  `polling requests: ${polling.requests}, errors: ${polling.errors}; live events received: ${live.eventsReceived}`,
);
const trafficSaved = 1 - live.bytesPerDashboardMinute / polling.bytesPerDashboardMinute;
const cpuSaved = 1 - live.cpuMsPerDashboardMinute / polling.cpuMsPerDashboardMinute;
console.log(`traffic saved by live: ${(trafficSaved * 100).toFixed(1)} % (goal 90 %)`);
console.log(`server CPU saved by live: ${(cpuSaved * 100).toFixed(1)} % (goal 80 %)`);
// Live's cost grows with the event rate, polling's (whole snapshot each second) barely does.
const perEventBytes = live.bytesPerDashboardMinute / (RATE * 60);
const perEventCpu = live.cpuMsPerDashboardMinute / (RATE * 60);
console.log(
  `break-even (linear in live's cost per event): polling's traffic at ${(polling.bytesPerDashboardMinute / 60 / perEventBytes).toFixed(0)} events/s per project, its CPU at ${(polling.cpuMsPerDashboardMinute / 60 / perEventCpu).toFixed(0)} events/s per project`,
);
process.exit(0);
