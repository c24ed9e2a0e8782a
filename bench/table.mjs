// One table per scenario: each figure for ours and the baseline, and the
// ratio ours/baseline.
const fmt = (n, d = 0) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');
const sumOf = (r, prefix) =>
  r.processes.filter((p) => p.role.startsWith(prefix)).reduce((s, p) => s + p.cpuSeconds, 0);
const maxRss = (r, prefix) =>
  Math.max(...r.processes.filter((p) => p.role.startsWith(prefix)).map((p) => p.rssMb));

const delivery = [
  ['server CPU ms / 1,000 deliveries', (r) => r.serverCpuMsPer1000, 1],
  ['deliveries/s', (r) => r.deliveredPerSec, 0],
  ['delivered / expected', null, 0, (r) => `${r.expected - r.lost}/${r.expected}`],
  ['lost', (r) => r.lost, 0],
  ['duplicated', (r) => r.duplicates, 0],
  ['publish failures', (r) => r.publishFailures, 0],
  ['latency p50 ms', (r) => r.p50, 0],
  ['latency p99 ms', (r) => r.p99, 0],
  ['latency p999 ms', (r) => r.p999, 0],
  ['latency max ms', (r) => r.max, 0],
  ['wire bytes / event', (r) => r.bytesPerEvent, 1],
  ['events / frame', (r) => r.eventsPerFrame, 2],
  ['replicas CPU s (sum)', (r) => sumOf(r, 'replica'), 2],
  ['replica RSS MB (max)', (r) => maxRss(r, 'replica'), 0],
  ['replica loop p99 ms', (r) => r.serverLoopP99Ms, 1],
  ['replica loop max ms', (r) => r.serverLoopMaxMs, 1],
  ['redis CPU s', (r) => sumOf(r, 'redis'), 2],
  ['viewer procs CPU s', (r) => sumOf(r, 'viewers'), 2],
  ['viewer procs loop p99', (r) => r.generatorLoopP99Ms, 1],
  ['publisher CPU s', (r) => sumOf(r, 'publisher'), 2],
];

const rowsFor = {
  fanout: [
    ['max passing ev/s', (r) => r.maxPassingRate, 0],
    [
      'steps (ev/s:p99)',
      null,
      0,
      // A rate run twice (it failed once) shows as rate:p99/p99.
      (r) =>
        r.steps
          .map(
            (s) =>
              `${s.retry ? '/' : ` ${s.rate}:`}${s.p99}${s.lost ? 'L' : ''}${s.generatorLoopP99Ms > 50 ? '!' : ''}`,
          )
          .join('')
          .trim(),
    ],
    ...delivery,
  ],
  ingest: [
    ['passes', null, 0, (r) => (r.passes ? 'yes' : r.loadSaturated ? 'no (load saturated)' : 'no')],
    ['publish requests', (r) => r.requests, 0],
    ...delivery,
  ],
  connections: [
    ['connect s', (r) => r.connectSeconds, 1],
    ['connect CPU s (replicas)', (r) => r.connectCpuSeconds, 2],
    ['idle RSS MB per replica', null, 0, (r) => r.rssIdleMb.map((m) => m.toFixed(0)).join('/')],
    ['RSS KB / connection (5 s idle)', (r) => r.rssPerConnectionKb, 1],
    ['RSS KB / connection (after GC)', (r) => r.collectedRssPerConnectionKb, 1],
    ['RSS KB / connection (settled)', (r) => r.settledRssPerConnectionKb, 1],
    ...delivery,
  ],
  snapshot: [
    ['entities', (x) => x.entities, 0],
    ['bytes / snapshot', (x) => x.bytes, 0],
    ['read p50 ms', (x) => x.p50, 1],
    ['read p99 ms', (x) => x.p99, 1],
    ['replica CPU ms / read', (x) => x.replicaCpuMsPerRead, 1],
    ['redis CPU ms / read', (x) => x.redisCpuMsPerRead, 1],
    ['200 at once: wall ms', (x) => x.burstWallMs, 0],
    ['200 at once: ok', (x) => x.burstOk, 0],
    ['200 at once: replica CPU ms', (x) => x.burstReplicaCpuMs, 0],
    ['200 at once: redis CPU ms', (x) => x.burstRedisCpuMs, 0],
    ['one token x200: ok', (x) => x.oneTokenOk, 0],
    ['one token x200: 429', (x) => x.oneTokenRefused, 0],
  ],
  recovery: [
    ['viewers moved', (x) => x.moved, 0],
    ['resubscribed', (x) => x.resubscribed, 0],
    ['reconnect p50 ms', (x) => x.reconnectP50, 0],
    ['reconnect p95 ms', (x) => x.reconnectP95, 0],
    ['reconnect max ms', (x) => x.reconnectMax, 0],
    ['delivered / expected', null, 0, (x) => `${x.delivered}/${x.expected}`],
    ['lost', (x) => x.lost, 0],
    ['duplicated', (x) => x.duplicates, 0],
    ['publish failures', (x) => x.publishFailures, 0],
  ],
};

export function printTable(key, ours, base) {
  const rows = rowsFor[key];
  const wide = rows.some(([label]) => label.startsWith('steps'));
  const col = wide ? 40 : 16;
  console.log(
    `${'figure'.padEnd(26)}${'gateway'.padStart(col)}${'baseline'.padStart(col)}${'ours/base'.padStart(11)}`,
  );
  for (const [label, get, d, show] of rows) {
    const a = get ? get(ours) : NaN;
    const b = get ? get(base) : NaN;
    const ratio = get && b ? a / b : NaN;
    const cell = (r, v) => (show ? show(r) : fmt(v, d));
    console.log(
      `${label.padEnd(26)}${cell(ours, a).padStart(col)}${cell(base, b).padStart(col)}${fmt(ratio, 2).padStart(11)}`,
    );
  }
}
