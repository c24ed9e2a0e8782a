// npm run load [-- --vus 200 --seconds 60 --rate 50 --commands 100 --storm 100
//                  --only dashboards,commands,storm]
// The k6 scenarios against the local cluster (npm run cluster: redis-server,
// three replicas, HAProxy), spread over the three replicas:
//   1. load/dashboards.js: --vus virtual dashboards over 10 projects for
//      --seconds, with load/publisher.js beside it at --rate events/s;
//   2. load/commands.js: dashboards sending --commands commands/s to 20
//      agents on other replicas, for half of --seconds;
//   3. load/reconnect-storm.js: --storm clients connecting, subscribing and
//      leaving, for half of --seconds.
// Each k6 run's own end-of-test summary is printed and kept in
// artifacts/load/<scenario>.txt; the exit code is non-zero when any
// threshold failed. Needs k6 on PATH (or K6=/path/to/k6).
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import jwt from 'jsonwebtoken';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? Number(args[i + 1]) : fallback;
};
const VUS = arg('vus', 200);
const SECONDS = arg('seconds', 60);
const RATE = arg('rate', 50);
const COMMANDS = arg('commands', 100);
const STORM = arg('storm', 100);
/**
 * The scenarios in the order they run, each resolving with its k6 runs'
 * results (called once the cluster is up).
 */
const SCENARIOS = {
  // The publisher starts once the dashboards are subscribed, and stops before they leave.
  dashboards: () =>
    Promise.all([
      run('dashboards', 'load/dashboards.js', {
        TARGETS: targets,
        TOKEN: viewerToken(),
        VUS,
        DURATION: `${SECONDS}s`,
      }),
      run(
        'publisher',
        'load/publisher.js',
        {
          TARGETS: targets,
          PUBLISH_TOKEN: sign({ sub: 'k6-publisher', projects: ['*'], scope: 'events:publish' }),
          RATE,
          DURATION: `${SECONDS - 10}s`,
        },
        5000,
      ),
    ]),
  commands: () =>
    runOne('commands', 'load/commands.js', {
      COMMAND_PROJECT,
      RATE: COMMANDS,
      AGENT_TOKENS: tokens(AGENTS, (i) => ({
        sub: `agent-${i}`,
        projects: [COMMAND_PROJECT],
        role: 'agent',
      })),
      OPERATOR_TOKENS: tokens(OPERATORS, (i) => ({
        sub: `k6-operator-${i}`,
        projects: [COMMAND_PROJECT],
        scope: 'agents:command',
      })),
    }),
  storm: () =>
    runOne('reconnect-storm', 'load/reconnect-storm.js', { TOKEN: viewerToken(), VUS: STORM }),
};
const NAMES = Object.keys(SCENARIOS);
/** `--only dashboards,commands,storm`: the scenarios to run (all by default). */
const onlyAt = args.indexOf('--only');
const ONLY = new Set(onlyAt >= 0 && args[onlyAt + 1] ? args[onlyAt + 1].split(',') : NAMES);
for (const name of ONLY) {
  if (!NAMES.includes(name)) {
    console.error(`--only: unknown scenario "${name}" (${NAMES.join(', ')})`);
    process.exit(2);
  }
}
const AGENTS = 20;
const COMMAND_PROJECT = 'k6-commands';
/** Operators (one user each) stay at half the per-user command limit (5/s by default). */
const OPERATORS = Math.max(1, Math.ceil(COMMANDS / 2.5));

const k6 = process.env.K6 || 'k6';
const probe = spawnSync(k6, ['version'], { encoding: 'utf8' });
if (probe.error || probe.status !== 0) {
  console.error(
    `k6 was not found (${k6}). Install it: https://grafana.com/docs/k6/latest/set-up/install-k6/ ` +
      '(Debian: the k6 apt repository; or a release binary), then put it on PATH or set K6=/path/to/k6.',
  );
  process.exit(1);
}
console.log(`using ${probe.stdout.trim()}`);

const out = join(root, 'artifacts', 'load');
mkdirSync(out, { recursive: true });

// The cluster, with the abuse limits lifted for one load generator on one address and one user.
const cluster = spawn(
  process.execPath,
  [
    'scripts/cluster.mjs',
    '--replicas',
    '3',
    '--port',
    '0',
    '--json',
    ...['MAX_CONNECTIONS_PER_USER=10000', 'RATE_LIMIT_HANDSHAKES_PER_MINUTE=1000000'].flatMap(
      (pair) => ['--env', pair],
    ),
  ],
  { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
);
const stop = () => cluster.kill('SIGTERM');
process.on('SIGINT', () => (stop(), process.exit(130)));
const info = await new Promise((resolve, reject) => {
  let buffered = '';
  cluster.stdout.on('data', (chunk) => {
    buffered += chunk;
    const line = buffered.split('\n').find((l) => l.startsWith('{'));
    if (line) resolve(JSON.parse(line));
  });
  cluster.on('exit', (code) => reject(new Error(`the cluster exited (${code}) before it was up`)));
});
const targets = info.replicas.map((r) => r.url).join(',');
const sign = (claims) => jwt.sign(claims, info.secret, { expiresIn: '2h' });
/** `n` tokens, one per virtual user, comma separated (as the k6 scripts take them). */
const tokens = (n, claimsOf) => Array.from({ length: n }, (_, i) => sign(claimsOf(i))).join(',');
console.log(`cluster up: replicas ${targets}`);

const viewerToken = () => sign({ sub: 'k6-viewer', projects: ['*'] });

/** A scenario of one k6 run over half of --seconds, on every replica: its results. */
const runOne = async (name, script, env) => [
  await run(name, script, { TARGETS: targets, DURATION: `${Math.ceil(SECONDS / 2)}s`, ...env }),
];

/** One k6 run; its output goes to the console and to artifacts/load/<name>.txt. */
function run(name, script, env, delayMs = 0) {
  return new Promise((resolve) => {
    setTimeout(() => {
      const log = createWriteStream(join(out, `${name}.txt`));
      const child = spawn(
        k6,
        [
          'run',
          '--quiet',
          '--address',
          '127.0.0.1:0',
          ...Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]),
          script,
        ],
        { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      child.stdout.pipe(log);
      child.stderr.pipe(log);
      child.on('exit', (code) => {
        log.end(() => {
          console.log(`\n===== ${name} (k6 exit ${code}) =====`);
          console.log(readFileSync(join(out, `${name}.txt`), 'utf8'));
          resolve({ name, code });
        });
      });
    }, delayMs);
  });
}

const results = [];
try {
  for (const name of NAMES) if (ONLY.has(name)) results.push(...(await SCENARIOS[name]()));
} finally {
  stop();
}
console.log('\nscenario          thresholds');
for (const r of results)
  console.log(`${r.name.padEnd(18)}${r.code === 0 ? 'passed' : `FAILED (k6 exit ${r.code})`}`);
process.exit(results.every((r) => r.code === 0) ? 0 : 1);
