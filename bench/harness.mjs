// The pieces every scenario is built from: load processes driven over IPC
// (viewer fleets and the publisher), a measuring window over them, and the
// servers' own figures (CPU, RSS, event-loop delay).
import { fork } from 'node:child_process';
import { join } from 'node:path';
import { cpuAndRss, root } from './lib.mjs';

let nextCall = 0;

/** A load process (bench/load/*.mjs) answering `{ id, ... }` to each `{ id, type, ... }`. */
export async function worker(file, role) {
  const child = fork(join(root, 'bench', 'load', file), [], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map();
  child.on('message', (msg) => {
    const resolve = pending.get(msg.id);
    pending.delete(msg.id);
    resolve?.(msg);
  });
  child.on('exit', (code) => {
    for (const resolve of pending.values()) resolve({ ok: false, error: `${role} exited ${code}` });
    pending.clear();
  });
  await new Promise((resolve) => child.once('message', resolve));
  return {
    role,
    pid: child.pid,
    call(type, body = {}) {
      const id = ++nextCall;
      return new Promise((resolve) => {
        pending.set(id, resolve);
        child.send({ id, type, ...body });
      });
    },
    kill: () => child.kill('SIGKILL'),
  };
}

/** Viewers spread over `processes` lean-viewer processes. */
export async function viewerFleet(processes) {
  const workers = await Promise.all(
    Array.from({ length: processes }, (_, i) => worker('lean-viewers.mjs', `viewers${i + 1}`)),
  );
  const all = (type, body) => Promise.all(workers.map((w) => w.call(type, body)));
  return {
    workers,
    /** Connects and subscribes viewers first..first+count-1, viewer n to projects[n % P] on urls[n % U]. */
    async connect({ urls, count, projects, token, first = 0 }) {
      const per = Math.ceil(count / workers.length);
      const replies = await Promise.all(
        workers.map((w, i) =>
          w.call('connect', {
            urls,
            projects,
            token,
            offset: first + i * per,
            count: Math.max(0, Math.min(per, count - i * per)),
          }),
        ),
      );
      const failed = replies.find((r) => !r.ok);
      if (failed) throw new Error(`viewers did not connect: ${failed.error}`);
    },
    mark: () => all('mark'),
    async received() {
      return (await all('progress')).reduce((sum, r) => sum + r.received, 0);
    },
    /** The window's figures, summed over the processes. */
    async stats(ranges) {
      const replies = await all('stats', { ranges });
      const histogram = new Map();
      for (const r of replies) {
        for (const [ms, n] of r.histogram) histogram.set(ms, (histogram.get(ms) ?? 0) + n);
      }
      const sum = (key) => replies.reduce((s, r) => s + r[key], 0);
      return {
        received: sum('received'),
        unique: sum('unique'),
        expected: sum('expected'),
        duplicates: sum('duplicates'),
        frames: sum('frames'),
        bytes: sum('bytes'),
        disconnects: sum('disconnects'),
        latency: percentiles(histogram),
        loopP99Ms: Math.max(...replies.map((r) => r.loopP99Ms)),
      };
    },
    close: () => all('close'),
  };
}

/** p50/p99/p999/max of a ms histogram (Map ms -> count). */
export function percentiles(histogram) {
  const buckets = [...histogram.entries()].sort((a, b) => a[0] - b[0]);
  const total = buckets.reduce((s, [, n]) => s + n, 0);
  const at = (q) => {
    if (total === 0) return NaN;
    const rank = Math.ceil(q * total);
    let seen = 0;
    for (const [ms, n] of buckets) {
      seen += n;
      if (seen >= rank) return ms;
    }
    return buckets.at(-1)[0];
  };
  return { p50: at(0.5), p99: at(0.99), p999: at(0.999), max: total ? buckets.at(-1)[0] : NaN };
}

/**
 * Event-loop delay of a server since the last call: the gateway's prom-client
 * gauges (reset at each scrape), the baseline's /stats.
 */
export async function loopDelay(server) {
  try {
    if (server.kind === 'baseline') {
      return await (await fetch(`${server.url}/stats`)).json();
    }
    const text = await (await fetch(`${server.url}/metrics`)).text();
    const gauge = (name) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]) * 1000;
    return {
      loopP99Ms: gauge('gateway_nodejs_eventloop_lag_p99_seconds'),
      loopMaxMs: gauge('gateway_nodejs_eventloop_lag_max_seconds'),
    };
  } catch {
    return { loopP99Ms: NaN, loopMaxMs: NaN };
  }
}

/** CPU seconds used and RSS of every process, between `start()` and `end()`. */
export function processMeter(procs) {
  let before = [];
  return {
    start() {
      before = procs.map((p) => cpuAndRss(p.pid).cpu);
    },
    end() {
      return procs.map((p, i) => {
        const now = cpuAndRss(p.pid);
        return { role: p.role, cpuSeconds: now.cpu - before[i], rssMb: now.rss };
      });
    },
  };
}

/**
 * One measuring window: publish `rate` events/s for `seconds`, wait until every
 * delivery is in (or `graceMs` passed), and collect everything measured.
 */
export async function measureWindow({ servers, fleet, publisher, procs, run, graceMs = 3000 }) {
  await fleet.mark();
  await Promise.all(servers.map(loopDelay));
  const meter = processMeter(procs);
  meter.start();
  const published = await publisher.call('run', run);
  const expected = Object.entries(published.ranges).reduce(
    (sum, [projectId, [from, to]]) => sum + (to - from) * run.viewersOf(projectId),
    0,
  );
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && (await fleet.received()) < expected) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const stats = await fleet.stats(published.ranges);
  const usage = meter.end();
  const loops = await Promise.all(servers.map(loopDelay));
  // The servers' cost: replicas plus Redis, per 1,000 events delivered.
  const serverCpuSeconds = usage
    .filter((p) => p.role.startsWith('replica') || p.role === 'redis')
    .reduce((sum, p) => sum + p.cpuSeconds, 0);
  return {
    serverCpuMsPer1000: stats.unique ? (serverCpuSeconds * 1e6) / stats.unique : NaN,
    rate: run.rate,
    seconds: published.seconds,
    published: Object.values(published.ranges).reduce((s, [a, b]) => s + b - a, 0),
    publishFailures: published.failures,
    publishRefusals: published.refusals,
    requests: published.requests,
    deliveredPerSec: stats.unique / published.seconds,
    expected: stats.expected,
    lost: stats.expected - stats.unique,
    duplicates: stats.duplicates,
    ...stats.latency,
    bytesPerEvent: stats.received ? stats.bytes / stats.received : NaN,
    eventsPerFrame: stats.frames ? stats.received / stats.frames : NaN,
    disconnects: stats.disconnects,
    serverLoopP99Ms: Math.max(...loops.map((l) => l.loopP99Ms)),
    serverLoopMaxMs: Math.max(...loops.map((l) => l.loopMaxMs)),
    generatorLoopP99Ms: stats.loopP99Ms,
    processes: usage,
  };
}
