// npm run cluster -- [--replicas 3] [--port 8080] [--redis-url redis://...] [--json]
//                    [--env NAME=value ...]   (more variables for every replica)
// The compose topology without Docker, from Debian's redis-server and haproxy:
// one Redis (started here unless --redis-url), N gateway replicas on free ports,
// and HAProxy in front on --port (WebSocket-aware; cookie stickiness only for
// Engine.IO's polling transport; /readyz health checks). The first replica runs
// the demo simulator. Prints the URL and development tokens; Ctrl+C stops it all.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import jwt from 'jsonwebtoken';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined && !args[i + 1].startsWith('--')
    ? args[i + 1]
    : fallback;
};
const REPLICAS = Number(arg('replicas', 3));
const PORT = Number(arg('port', 8080));
const JSON_OUT = args.includes('--json');
/** `--env NAME=value`, repeatable: set on every replica after the cluster's own variables. */
const EXTRA_ENV = Object.fromEntries(
  args
    .flatMap((a, i) => (a === '--env' && args[i + 1] ? [args[i + 1]] : []))
    .map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)])
    .filter(([name]) => /^[A-Z][A-Z0-9_]*$/.test(name)),
);
const say = (text) => {
  if (!JSON_OUT) process.stdout.write(`${text}\n`);
};

for (const [bin, pkg] of [
  ['haproxy', 'haproxy'],
  ['redis-server', 'redis-server'],
]) {
  if (spawnSync('sh', ['-c', `command -v ${bin}`]).status !== 0) {
    console.error(`${bin} is not installed: apt-get update && apt-get install -y ${pkg}`);
    process.exit(1);
  }
}

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

const children = [];
function start(cmd, argv, env, readyText) {
  const child = spawn(cmd, argv, {
    cwd: root,
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  return new Promise((resolve, reject) => {
    const onData = (chunk) => {
      out += chunk.toString();
      if (readyText === null || out.includes(readyText)) {
        child.stdout.off('data', onData);
        child.stdout.resume();
        child.stderr.resume();
        resolve(child);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (c) => (out += c.toString()));
    child.on('exit', (code) => reject(new Error(`${cmd} exited ${code}:\n${out}`)));
    if (readyText === null) setImmediate(() => onData(Buffer.alloc(0)));
  });
}

function stopAll() {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
}
process.on('SIGINT', () => (stopAll(), process.exit(0)));
process.on('SIGTERM', () => (stopAll(), process.exit(0)));
process.on('exit', stopAll);

try {
  let redisUrl = arg('redis-url', null);
  if (!redisUrl) {
    const port = await freePort();
    await start(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      {},
      'Ready to accept connections',
    );
    redisUrl = `redis://127.0.0.1:${port}`;
  }
  // Development-only secret, generated per run: the tokens below die with the cluster.
  const secret = randomBytes(32).toString('hex');
  const lbPort = PORT === 0 ? await freePort() : PORT;
  const replicas = [];
  for (let i = 0; i < REPLICAS; i++) {
    const port = await freePort();
    const child = await start(
      process.execPath,
      ['dist/main.js'],
      {
        HOST: '127.0.0.1',
        PORT: String(port),
        REDIS_URL: redisUrl,
        REDIS_KEY_PREFIX: 'sb',
        JWT_SECRET: secret,
        TRUSTED_PROXIES: '127.0.0.1',
        // The dashboard is opened through the load balancer.
        PUBLIC_ORIGIN: `http://127.0.0.1:${lbPort},http://localhost:${lbPort}`,
        DRAIN_WINDOW_MS: '5000',
        LOG_LEVEL: 'info',
        ...(i === 0 ? { DEMO: '1' } : {}),
        ...EXTRA_ENV,
      },
      '"msg":"listening"',
    );
    replicas.push({ url: `http://127.0.0.1:${port}`, port, pid: child.pid });
  }
  const dir = mkdtempSync(join(tmpdir(), 'gateway-cluster-'));
  const config = join(dir, 'haproxy.cfg');
  writeFileSync(config, haproxyConfig(lbPort, replicas));
  await start('haproxy', ['-f', config, '-db'], {}, null);
  await waitForLb(`http://127.0.0.1:${lbPort}`, replicas.length);

  const viewerToken = jwt.sign({ sub: 'dev-viewer', projects: ['*'] }, secret, {
    expiresIn: '12h',
  });
  const publishToken = jwt.sign(
    { sub: 'dev-publisher', projects: ['*'], scope: 'events:publish' },
    secret,
    { expiresIn: '12h' },
  );
  const url = `http://localhost:${lbPort}`;
  if (JSON_OUT) {
    process.stdout.write(
      `${JSON.stringify({ url: `http://127.0.0.1:${lbPort}`, redisUrl, replicas, viewerToken, publishToken, secret })}\n`,
    );
  }
  say(`\n  Cluster: ${replicas.length} replicas behind HAProxy, Redis at ${redisUrl}`);
  say(`  Dashboard: ${url}/#token=${viewerToken}&projects=demo,demo-2`);
  say(`  Viewer token (dev only): ${viewerToken}`);
  say(`  Publish token (dev only): ${publishToken}`);
  say(`  Replicas: ${replicas.map((r) => r.url).join(' ')}`);
  say(`  k6: k6 run load/dashboards.js -e TARGETS=${url} -e TOKEN=${viewerToken}\n`);
} catch (err) {
  console.error(String(err));
  stopAll();
  process.exit(1);
}

/**
 * HAProxy in front of the replicas. WebSocket upgrades and SSE pass through
 * (HTTP mode handles the upgrade; `timeout tunnel` keeps sockets open). Only
 * Engine.IO's polling transport needs stickiness (its requests must reach the
 * replica that holds the session), so only it goes to a backend with a cookie.
 * Health checks use /readyz, so a draining or Redis-less replica leaves the
 * rotation at once.
 */
function haproxyConfig(port, replicas) {
  const servers = (cookie) =>
    replicas
      .map(
        (r, i) =>
          `    server gw${i + 1} 127.0.0.1:${r.port} check inter 1s fall 2 rise 2${cookie ? ` cookie gw${i + 1}` : ''}`,
      )
      .join('\n');
  return `global
    # Two file descriptors per proxied connection: stay within a default 20000 fd limit.
    maxconn 8000

defaults
    mode http
    option forwardfor
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout tunnel 1h
    timeout http-keep-alive 10s

frontend gateway
    bind 127.0.0.1:${port}
    acl socketio path_beg /socket.io/
    acl polling url_param(transport) -m str polling
    use_backend polling if socketio polling
    default_backend gateways

backend gateways
    balance leastconn
    option httpchk GET /readyz
    http-check expect status 200
${servers(false)}

backend polling
    balance roundrobin
    cookie GWSERVER insert indirect nocache
    option httpchk GET /readyz
    http-check expect status 200
${servers(true)}
`;
}

async function waitForLb(url, count) {
  const deadline = Date.now() + 15000;
  for (;;) {
    try {
      const res = await fetch(`${url}/readyz`);
      if (res.status === 200) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline)
      throw new Error(`HAProxy at ${url} did not become ready (${count} replicas)`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
