// npm run soak -- --minutes N [--viewers 300 --rate 100]
// The long version of the leak test: one replica (node --expose-gc) on a
// private redis-server; waves of viewers connect, subscribe to projects and
// run logs, churn and leave, while events are published at a steady rate.
// Every 10 s it prints heap after GC, RSS, connected sockets and the internal
// counts; at the end, the heap growth from the first sample to the last.
import { randomBytes } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { io } from 'socket.io-client';
import { freePort, gateway, parseArgs, startRedis } from './lib.mjs';

const args = parseArgs();
const MINUTES = Number(args.minutes ?? 1);
const VIEWERS = Number(args.viewers ?? 300);
const RATE = Number(args.rate ?? 100);
const SECRET = randomBytes(32).toString('hex');
const viewerToken = jwt.sign({ sub: 'soak-viewer', projects: ['*'] }, SECRET, { expiresIn: 86400 });
const serviceToken = jwt.sign({ sub: 'soak', projects: ['*'], scope: 'events:publish' }, SECRET, {
  expiresIn: 86400,
});

const redis = await startRedis();
const port = await freePort();
const replica = await gateway(SECRET, ['--expose-gc'])(port, redis.url, `soak${Date.now()}`);
const url = replica.url;
const stopAt = Date.now() + MINUTES * 60_000;
let running = true;

async function json(path) {
  return (await fetch(`${url}${path}`)).json();
}
async function metrics() {
  const text = await (await fetch(`${url}/metrics`)).text();
  const get = (name) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  const internal = {};
  for (const m of text.matchAll(/^gateway_internal_objects\{kind="(\w+)"\} (\S+)$/gm)) {
    internal[m[1]] = Number(m[2]);
  }
  return { sockets: get('gateway_connected_sockets'), internal };
}

function viewer(i) {
  return new Promise((resolve) => {
    const socket = io(url, {
      auth: { token: viewerToken },
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
    });
    socket.on('connect', () => {
      const projectId = `soak${i % 20}`;
      socket.emit('subscribe', { projectId, ...(i % 3 ? {} : { types: ['task.*'] }) }, () => {
        if (i % 4 === 0) socket.emit('logs:subscribe', { projectId, runId: `r${i % 5}` }, () => {});
        // Stay a random while, then leave.
        setTimeout(
          () => {
            socket.close();
            resolve();
          },
          500 + Math.random() * 3000,
        );
      });
    });
    socket.on('connect_error', () => resolve());
  });
}

async function churn() {
  let i = 0;
  while (running) {
    await Promise.all(Array.from({ length: VIEWERS }, () => viewer(i++)));
  }
}

async function publish() {
  let n = 0;
  while (running) {
    const projectId = `soak${n % 20}`;
    await fetch(`${url}/api/projects/${projectId}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${serviceToken}` },
      body: JSON.stringify([
        { type: 'task.status.changed', data: { taskId: `t${n % 100}`, from: null, to: 'active' } },
        {
          type: 'agent.run.log',
          data: { runId: `r${n % 5}`, line: `line ${n}`, lineNumber: n + 1 },
        },
      ]),
    }).catch(() => undefined);
    n++;
    await new Promise((r) => setTimeout(r, 2000 / RATE));
  }
}

console.log(
  `soak: ${MINUTES} min, waves of ${VIEWERS} viewers (stay 0.5-3.5 s), ${RATE} events/s; sample every 10 s\n`,
);
console.log('  time  heapMiB  rssMiB  sockets  internal');
const samples = [];
const sample = async () => {
  const heap = await json('/debug/heap');
  const m = await metrics();
  const at = Math.round((Date.now() - (stopAt - MINUTES * 60_000)) / 1000);
  samples.push(heap.heapUsed);
  console.log(
    `${String(at).padStart(5)}s ${(heap.heapUsed / 2 ** 20).toFixed(1).padStart(8)} ${(heap.rss / 2 ** 20).toFixed(1).padStart(7)} ${String(m.sockets).padStart(8)}  ${JSON.stringify(m.internal)}`,
  );
};
await sample();
const work = Promise.all([churn(), publish()]);
while (Date.now() < stopAt) {
  await new Promise((r) => setTimeout(r, Math.min(10_000, Math.max(0, stopAt - Date.now()))));
  await sample();
}
running = false;
await work;
// Every viewer has left: the final sample must show the internal counts at zero.
await new Promise((r) => setTimeout(r, 500));
await sample();
const growth = (samples.at(-1) - samples[0]) / 2 ** 20;
console.log(
  `\nheap after GC: first ${(samples[0] / 2 ** 20).toFixed(1)} MiB, last ${(samples.at(-1) / 2 ** 20).toFixed(1)} MiB, growth ${growth.toFixed(1)} MiB`,
);
replica.child.kill('SIGKILL');
redis.child.kill('SIGKILL');
process.exit(0);
