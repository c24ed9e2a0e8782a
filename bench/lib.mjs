// Shared by the benchmark scenarios: free ports, child processes that signal
// readiness on stdout, CPU and RSS from /proc, and the two servers under test.
import { spawn, spawnSync } from 'node:child_process';
import { cpus, tmpdir } from 'node:os';
import { mkdtempSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { WebSocket } from 'ws';
import { fileURLToPath } from 'node:url';
import { join, dirname } from 'node:path';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const CLK = 100; // clock ticks per second for /proc/<pid>/stat

export const freePort = () =>
  new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

export function startProcess(cmd, argv, env, readyText) {
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
        // Started with --inspect: where its inspector listens (see fullGc).
        child.inspectorUrl = /Debugger listening on (ws:\/\/\S+)/.exec(out)?.[1];
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

/**
 * A full garbage collection in a process started with `--inspect`, through
 * its inspector (HeapProfiler.collectGarbage), so RSS can be compared between
 * settled heaps rather than between whatever garbage each happens to hold.
 */
export async function fullGc(child) {
  if (!child.inspectorUrl) throw new Error('fullGc needs a process started with --inspect');
  const ws = new WebSocket(child.inspectorUrl);
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  await new Promise((resolve) => {
    ws.on('message', (data) => {
      if (JSON.parse(data.toString()).id === 1) resolve();
    });
    ws.send(JSON.stringify({ id: 1, method: 'HeapProfiler.collectGarbage' }));
  });
  ws.close();
}

/** Node flags that make a server write a V8 CPU profile to artifacts/profiles on a clean exit. */
export const PROFILE_NODE_ARGS = [
  '--cpu-prof',
  `--cpu-prof-dir=${join(root, 'artifacts', 'profiles')}`,
];

/**
 * POSTs a JSON `body` with a bearer `token` through `agent` (keep-alive);
 * resolves with the status, or `error:<code>` when the request itself failed
 * (ECONNRESET, say), so a refusal can be told from a failure on the way.
 */
export function postJson(url, { agent, token, body, headers = {} }) {
  return new Promise((resolve) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          authorization: `Bearer ${token}`,
          ...headers,
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', (err) => resolve(`error:${err.code ?? err.message}`));
    req.end(body);
  });
}

/**
 * `--pin`: the servers (replicas, Redis) on the first half of the cores and
 * the load processes (viewers, publisher) on the rest, so a step measures
 * the servers, not the cores they share with their load. Null when the
 * machine has one core or `taskset` is missing.
 */
export function coreSplit() {
  const n = cpus().length;
  if (n < 2 || spawnSync('taskset', ['--version']).status !== 0) return null;
  const half = Math.ceil(n / 2);
  const range = (a, b) => (a === b ? String(a) : `${a}-${b}`);
  return { servers: range(0, half - 1), load: range(half, n - 1) };
}

/** Moves a running process (all its threads) onto `cores` (`taskset -a -p -c`). */
export function pin(pid, cores) {
  const run = spawnSync('taskset', ['-a', '-p', '-c', cores, String(pid)], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`taskset ${cores} ${pid}: ${run.stderr}`);
}

export function cpuAndRss(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const cpu = (Number(stat[11]) + Number(stat[12])) / CLK;
  const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;
  return { cpu, rss };
}

/** Starts a private redis-server on a free port; exits with a hint if it is missing. */
export async function startRedis() {
  const port = await freePort();
  const child = await startProcess(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {},
    'Ready to accept connections',
  ).catch((err) => {
    console.error(
      `redis-server did not start (apt-get update && apt-get install -y redis-server): ${err.message}`,
    );
    process.exit(1);
  });
  return { child, children: [child], url: `redis://127.0.0.1:${port}` };
}

/** A free port whose cluster bus port (+10000) is free too. */
async function clusterPort() {
  for (;;) {
    const port = await freePort();
    if (port + 10000 > 65535) continue;
    const bus = await new Promise((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(false));
      s.listen(port + 10000, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (bus) return port;
  }
}

/**
 * A private Redis Cluster of `masters` masters on free ports, made the way an
 * operator would (`--cluster-enabled yes`, then `redis-cli --cluster create`).
 * `url` is the servers' Redis setting: `cluster:host:port,...`.
 */
export async function startRedisCluster(masters = 3) {
  const dir = mkdtempSync(join(tmpdir(), 'bench-cluster-'));
  const nodes = [];
  for (let i = 0; i < masters; i++) {
    const port = await clusterPort();
    const child = await startProcess(
      'redis-server',
      [
        ...['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
        ...['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`)],
        ...['--cluster-node-timeout', '2000', '--dir', dir],
      ],
      {},
      'Ready to accept connections',
    );
    nodes.push({ port, child });
  }
  const addresses = nodes.map((n) => `127.0.0.1:${n.port}`);
  const create = spawnSync(
    'redis-cli',
    ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'],
    { encoding: 'utf8' },
  );
  if (create.status !== 0)
    throw new Error(`redis-cli --cluster create: ${create.stdout}${create.stderr}`);
  for (const deadline = Date.now() + 20_000; ;) {
    const ok = nodes.every((n) =>
      spawnSync('redis-cli', ['-p', String(n.port), 'cluster', 'info'], {
        encoding: 'utf8',
      }).stdout.includes('cluster_state:ok'),
    );
    if (ok) break;
    if (Date.now() > deadline)
      throw new Error('the bench Redis Cluster did not reach cluster_state:ok');
    await new Promise((r) => setTimeout(r, 100));
  }
  return { children: nodes.map((n) => n.child), url: `cluster:${addresses.join(',')}` };
}

/** The Redis variables for a server: `REDIS_URL`, or `REDIS_CLUSTER_NODES` for a `cluster:` url. */
export const redisEnv = (url) =>
  url.startsWith('cluster:') ? { REDIS_CLUSTER_NODES: url.slice(8) } : { REDIS_URL: url };

/** One gateway replica (`dist/main.js`); replicas of one scenario share `prefix`. */
export const gateway =
  (secret, nodeArgs = [], extraEnv = {}) =>
  async (port, redisUrl, prefix) => {
    const child = await startProcess(
      process.execPath,
      [...nodeArgs, 'dist/main.js'],
      {
        PORT: String(port),
        HOST: '127.0.0.1',
        ...redisEnv(redisUrl),
        REDIS_KEY_PREFIX: prefix,
        JWT_SECRET: secret,
        LOG_LEVEL: 'info',
        RATE_LIMIT_PUBLISH_PER_SECOND: '100000',
        // The snapshot scenario's readers stay under it; its one-token burst does not.
        RATE_LIMIT_READS_PER_SECOND: '20',
        // Every load viewer is one user from one address.
        MAX_CONNECTIONS_PER_USER: '10000',
        RATE_LIMIT_HANDSHAKES_PER_MINUTE: '1000000',
        RATE_LIMIT_COMMANDS_PER_SECOND: '100000',
        // One agent answers every command of the command scenario on one socket.
        RATE_LIMIT_MESSAGES_PER_SECOND: '100000',
        ...extraEnv,
      },
      '"msg":"listening"',
    );
    return { child, url: `http://127.0.0.1:${port}` };
  };

/** One baseline replica: plain Socket.IO + redis-adapter. */
export const baseline =
  (nodeArgs = []) =>
  async (port, redisUrl) => {
    const child = await startProcess(
      process.execPath,
      [...nodeArgs, 'bench/baseline-server.mjs'],
      { PORT: String(port), ...redisEnv(redisUrl) },
      '"listening"',
    );
    return { child, url: `http://127.0.0.1:${port}` };
  };

export const quantile = (sorted, q) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : NaN;

/** `--name value` pairs from the command line (a flag without a value maps to undefined). */
export function parseArgs(argv = process.argv.slice(2)) {
  return Object.fromEntries(
    argv.reduce(
      (acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc),
      [],
    ),
  );
}
