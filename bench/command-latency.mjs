// Command round trip across replicas: a dashboard on replica C asks, an agent
// on replica A answers, and the dashboard sees the command completed (its
// event on the project stream). Against the same round trip built on plain
// Socket.IO + redis-adapter (the baseline server): the dashboard posts a
// request event, the agent, in the project room on another replica, posts
// its completion, the dashboard receives it. `npm run build` first.
//
//   node bench/command-latency.mjs [--commands 300] [--rate 100]
//
// Without --rate the commands go one after another; with --rate N they are
// asked N a second by the clock (open loop: a slow trip does not delay the
// next), as operators under load would.
//
// The gateway's trip holds more than the baseline's: validation, the
// command's state in Redis (every step a conditional append), history, and
// the agent's acceptance before its completion.
import { randomBytes } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { io } from 'socket.io-client';
import { baseline, freePort, gateway, parseArgs, postJson, quantile, startRedis } from './lib.mjs';

const args = parseArgs();
const commands = Number(args.commands ?? 300);
/** Commands a second, open loop; undefined: one after another. */
const rate = args.rate === undefined ? undefined : Number(args.rate);
if (rate !== undefined && !(rate > 0)) {
  console.error('--rate: commands a second, a positive number');
  process.exit(2);
}
const WARM_UP = 30;
const secret = randomBytes(32).toString('hex');
const sign = (claims, sub) => jwt.sign(claims, secret, { subject: sub, expiresIn: 3600 });
const PROJECT = 'bench';

const connect = (url, token) =>
  new Promise((resolve, reject) => {
    const socket = io(url, { transports: ['websocket'], auth: { token }, reconnection: false });
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', reject);
  });
const emit = (socket, event, payload) =>
  new Promise((resolve) => socket.emit(event, payload, resolve));

/** Resolves `completed(commandId)` when `socket` sees that command's `command.completed`. */
function completions(socket) {
  const waiting = new Map();
  socket.on('events', (events) => {
    for (const e of events) {
      if (e.type !== 'command.completed') continue;
      waiting.get(e.data.commandId)?.();
      waiting.delete(e.data.commandId);
    }
  });
  return (commandId) => new Promise((resolve) => waiting.set(commandId, resolve));
}

async function gatewayTrips(urls) {
  const agent = await connect(urls[0], sign({ projects: [PROJECT], role: 'agent' }, 'bench-agent'));
  agent.on('command', async ({ commandId, projectId }) => {
    await emit(agent, 'command:accepted', { commandId, projectId });
    await emit(agent, 'command:completed', { commandId, projectId, result: 'ok' });
  });
  const ops = await connect(
    urls[2],
    sign({ projects: [PROJECT], scope: 'agents:command' }, 'bench-ops'),
  );
  await emit(ops, 'subscribe', { projectId: PROJECT });
  const times = await run(ops, async (commandId, i) => {
    const ack = await emit(ops, 'command:request', {
      projectId: PROJECT,
      agentId: 'bench-agent',
      command: 'agent.instruct',
      args: { text: `job ${i}` },
      commandId,
    });
    if (!ack.ok) throw new Error(`refused: ${JSON.stringify(ack.error)}`);
  });
  agent.close();
  ops.close();
  return times;
}

async function baselineTrips(urls) {
  const agent = await connect(urls[0], 'none');
  await emit(agent, 'subscribe', { projectId: PROJECT });
  agent.on('events', (events) => {
    for (const e of events) {
      if (e.type !== 'command.requested') continue;
      void postJson(`${urls[0]}/api/projects/${PROJECT}/events`, {
        token: 'none',
        body: JSON.stringify({ type: 'command.completed', data: { commandId: e.data.commandId } }),
      });
    }
  });
  const ops = await connect(urls[2], 'none');
  await emit(ops, 'subscribe', { projectId: PROJECT });
  const times = await run(ops, (commandId, i) =>
    postJson(`${urls[2]}/api/projects/${PROJECT}/events`, {
      token: 'none',
      body: JSON.stringify({ type: 'command.requested', data: { commandId, text: `job ${i}` } }),
    }),
  );
  agent.close();
  ops.close();
  return times;
}

/**
 * Warm-up, then `commands` trips, one after the other or `rate` a second,
 * each timed from `ask(commandId, i)` until `ops` sees that command
 * completed; the times, sorted.
 */
async function run(ops, ask) {
  const completed = completions(ops);
  const trip = async (i) => {
    const commandId = `c${i}`;
    const started = performance.now();
    const done = completed(commandId);
    await ask(commandId, i);
    await done;
    return performance.now() - started;
  };
  for (let i = 0; i < WARM_UP; i++) await trip(`w${i}`);
  const times = [];
  if (rate === undefined) {
    for (let i = 0; i < commands; i++) times.push(await trip(i));
  } else {
    const startedAt = performance.now();
    const trips = [];
    for (let i = 0; i < commands; i++) {
      const wait = startedAt + (i * 1000) / rate - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      trips.push(trip(i).then((t) => times.push(t)));
    }
    await Promise.all(trips);
  }
  return times.sort((a, b) => a - b);
}

const redis = await startRedis();
const results = {};
for (const kind of ['gateway', 'baseline']) {
  const start = kind === 'gateway' ? gateway(secret) : baseline();
  const prefix = `cmd${Date.now()}`;
  const replicas = [];
  for (let i = 0; i < 3; i++) replicas.push(await start(await freePort(), redis.url, prefix));
  const urls = replicas.map((r) => r.url);
  results[kind] = kind === 'gateway' ? await gatewayTrips(urls) : await baselineTrips(urls);
  for (const { child } of replicas) child.kill('SIGINT');
}
redis.child.kill();

console.log(
  `command round trip: ${commands} commands ${rate === undefined ? 'one after another' : `at ${rate}/s`}, agent on replica A, dashboard on replica C`,
);
console.log('figure        gateway   baseline  ours/base');
for (const [name, q] of [
  ['p50 ms', 0.5],
  ['p95 ms', 0.95],
  ['p99 ms', 0.99],
  ['max ms', 1],
]) {
  const ours = quantile(results.gateway, q);
  const base = quantile(results.baseline, q);
  console.log(
    `${name.padEnd(12)}${ours.toFixed(1).padStart(9)}${base.toFixed(1).padStart(11)}${(ours / base).toFixed(2).padStart(11)}`,
  );
}
process.exit(0);
