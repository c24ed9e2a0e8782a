// npm run soak -- --minutes N [--viewers 300 --rate 100 --agents 10 --commands 5]
// The long version of the leak test: one replica (node --expose-gc) on a
// private redis-server, under churn: waves of viewers connect, subscribe to
// projects and run logs, and leave; SSE streams open and close; agents
// connect, answer commands and leave (commands to an agent that is away wait
// and expire); an operator sends --commands commands/s; events are published
// at a steady rate throughout. Every 10 s it prints heap after GC, RSS,
// connected sockets and the internal counts; at the end, the heap growth
// and its slope (least squares, MiB per hour) over every sample under load and
// over the settled ones (after the warm-up, no replay of history in flight).
// The 24-hour soak is `npm run soak -- --minutes 1440`.
// --heap-diff: the replica also runs with --inspect; a heap snapshot is taken a
// third of the way in (under load) and another after everyone left, both kept
// in artifacts/heap, and what grew between them is printed by constructor.
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import jwt from 'jsonwebtoken';
import { io } from 'socket.io-client';
import { grewBetween, summarize, takeHeapSnapshot } from './heap-snapshot.mjs';
import { freePort, gateway, parseArgs, root, startRedis } from './lib.mjs';

const args = parseArgs();
const MINUTES = Number(args.minutes ?? 1);
const VIEWERS = Number(args.viewers ?? 300);
const RATE = Number(args.rate ?? 100);
const AGENTS = Number(args.agents ?? 10);
const COMMANDS_PER_SECOND = Number(args.commands ?? 5);
const COMMAND_PROJECT = 'soak-cmd';
const HEAP_DIFF = 'heap-diff' in args;
const heapDir = join(root, 'artifacts', 'heap');
const SECRET = randomBytes(32).toString('hex');
const viewerToken = jwt.sign({ sub: 'soak-viewer', projects: ['*'] }, SECRET, { expiresIn: 86400 });
const serviceToken = jwt.sign({ sub: 'soak', projects: ['*'], scope: 'events:publish' }, SECRET, {
  expiresIn: 86400,
});

const redis = await startRedis();
const port = await freePort();
// Commands to an agent that is away expire within the run, so the expiry path is soaked too.
const nodeArgs = ['--expose-gc', ...(HEAP_DIFF ? ['--inspect=127.0.0.1:0'] : [])];
const replica = await gateway(SECRET, nodeArgs, { COMMAND_TTL_MS: '5000' })(
  port,
  redis.url,
  `soak${Date.now()}`,
);
const operatorToken = jwt.sign(
  { sub: 'soak-operator', projects: [COMMAND_PROJECT], scope: 'agents:command' },
  SECRET,
  { expiresIn: 86400 },
);
const agentToken = (i) =>
  jwt.sign({ sub: `soak-agent-${i}`, projects: [COMMAND_PROJECT], role: 'agent' }, SECRET, {
    expiresIn: 86400,
  });
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

/** An SSE stream held 0.5 to 3 s, then dropped (as a closed tab does). */
async function sseStreams() {
  let i = 0;
  while (running) {
    const abort = new AbortController();
    const projectId = `soak${i++ % 20}`;
    const res = await fetch(`${url}/api/projects/${projectId}/events`, {
      headers: { authorization: `Bearer ${viewerToken}`, accept: 'text/event-stream' },
      signal: abort.signal,
    }).catch(() => null);
    const reader = res?.body?.getReader();
    const until = Date.now() + 500 + Math.random() * 2500;
    while (reader && Date.now() < until) {
      const read = await Promise.race([
        reader.read().catch(() => ({ done: true })),
        new Promise((r) => setTimeout(() => r({ done: false }), until - Date.now())),
      ]);
      if (read.done) break;
    }
    abort.abort();
  }
}

/** Agent i: connects, answers every command it is given, leaves after 2 to 6 s, comes back. */
async function agentLives(i) {
  while (running) {
    await new Promise((resolve) => {
      const socket = io(url, {
        auth: { token: agentToken(i) },
        transports: ['websocket'],
        reconnection: false,
        forceNew: true,
      });
      socket.on('command', ({ commandId, projectId }) => {
        socket.emit('command:accepted', { commandId, projectId }, () =>
          socket.emit('command:completed', { commandId, projectId, result: 'ok' }, () => {}),
        );
      });
      socket.on('connect_error', () => resolve());
      setTimeout(
        () => {
          socket.close();
          resolve();
        },
        2000 + Math.random() * 4000,
      );
    });
    await new Promise((r) => setTimeout(r, Math.random() * 2000));
  }
}

/** One operator asking agents in turn, present or not. */
async function operator() {
  const socket = io(url, {
    auth: { token: operatorToken },
    transports: ['websocket'],
    forceNew: true,
  });
  let n = 0;
  while (running) {
    socket.emit(
      'command:request',
      {
        projectId: COMMAND_PROJECT,
        agentId: `soak-agent-${n++ % AGENTS}`,
        command: 'agent.instruct',
        args: { text: `step ${n}` },
      },
      () => {},
    );
    await new Promise((r) => setTimeout(r, 1000 / COMMANDS_PER_SECOND));
  }
  socket.close();
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
  `soak: ${MINUTES} min, waves of ${VIEWERS} viewers (stay 0.5-3.5 s), SSE streams, ${AGENTS} agents coming and going, ${COMMANDS_PER_SECOND} commands/s, ${RATE} events/s; sample every 10 s\n`,
);
console.log('  time  heapMiB  rssMiB  sockets  internal');
const samples = [];
const times = [];
/** Samples past the warm-up with no replay in flight: what the heap holds between bursts. */
const settled = [];
const WARM_UP_S = 120;
const sample = async () => {
  const heap = await json('/debug/heap');
  const m = await metrics();
  const at = Math.round((Date.now() - (stopAt - MINUTES * 60_000)) / 1000);
  samples.push(heap.heapUsed);
  times.push(at);
  if (at >= WARM_UP_S && running && m.internal.replay_bytes === 0 && m.sockets > 0) {
    settled.push([at, heap.heapUsed]);
  }
  console.log(
    `${String(at).padStart(5)}s ${(heap.heapUsed / 2 ** 20).toFixed(1).padStart(8)} ${(heap.rss / 2 ** 20).toFixed(1).padStart(7)} ${String(m.sockets).padStart(8)}  ${JSON.stringify(m.internal)}`,
  );
};
await sample();
const work = Promise.all([
  churn(),
  publish(),
  sseStreams(),
  operator(),
  ...Array.from({ length: AGENTS }, (_, i) => agentLives(i)),
]);
const snapshotAt = Date.now() + (MINUTES * 60_000) / 3;
let underLoad = null;
if (HEAP_DIFF) mkdirSync(heapDir, { recursive: true });
while (Date.now() < stopAt) {
  await new Promise((r) => setTimeout(r, Math.min(10_000, Math.max(0, stopAt - Date.now()))));
  await sample();
  if (HEAP_DIFF && !underLoad && Date.now() >= snapshotAt) {
    underLoad = join(heapDir, 'under-load.heapsnapshot');
    await takeHeapSnapshot(replica.child.inspectorUrl, underLoad);
  }
}
running = false;
await work;
// Every viewer has left: the final sample must show the internal counts at zero.
await new Promise((r) => setTimeout(r, 500));
await sample();
const growth = (samples.at(-1) - samples[0]) / 2 ** 20;
const mean = (v) => v.reduce((a, b) => a + b, 0) / v.length;
/** Least-squares slope of `ys` (bytes) over `xs` (seconds), MiB per hour. */
const slopeOf = (xs, ys) => {
  const [hours, mib] = [xs.map((t) => t / 3600), ys.map((b) => b / 2 ** 20)];
  const [mx, my] = [mean(hours), mean(mib)];
  return (
    hours.reduce((a, x, k) => a + (x - mx) * (mib[k] - my), 0) /
    Math.max(
      1e-9,
      hours.reduce((a, x) => a + (x - mx) ** 2, 0),
    )
  );
};
// Under load: every sample but the last (after everyone left).
const slope = slopeOf(times.slice(0, -1), samples.slice(0, -1));
console.log(
  `\nheap after GC: first ${(samples[0] / 2 ** 20).toFixed(1)} MiB, last ${(samples.at(-1) / 2 ** 20).toFixed(1)} MiB, growth ${growth.toFixed(1)} MiB; slope under load ${slope.toFixed(2)} MiB/hour over ${samples.length - 1} samples`,
);
if (settled.length >= 2) {
  const heaps = settled.map(([, h]) => h / 2 ** 20);
  const settledSlope = slopeOf(
    settled.map(([t]) => t),
    settled.map(([, h]) => h),
  );
  console.log(
    `settled (after ${WARM_UP_S} s, no replay in flight): slope ${settledSlope.toFixed(2)} MiB/hour over ${settled.length} samples, ${Math.min(...heaps).toFixed(1)}-${Math.max(...heaps).toFixed(1)} MiB`,
  );
}
if (underLoad) {
  const after = join(heapDir, 'after-churn.heapsnapshot');
  await takeHeapSnapshot(replica.child.inspectorUrl, after);
  console.log(
    `\nheap snapshots in ${heapDir}: what grew from a third of the way in to after everyone left`,
  );
  for (const line of grewBetween(summarize(underLoad), summarize(after))) console.log(line);
}
replica.child.kill('SIGKILL');
redis.child.kill('SIGKILL');
process.exit(0);
