// recovery: three replicas, viewers spread over them, events published through
// the third at a steady rate; the first is killed with SIGKILL after 40% of
// the run. Its viewers move to the next replica and subscribe again (ours with
// `since`, as the protocol asks of a dashboard; the baseline has no resume).
// Its viewers are socket.io-client ones (bench/load/resuming-viewers.mjs):
// the load is small, and what is measured is reconnection, not throughput.
import { fork } from 'node:child_process';
import { join } from 'node:path';
import { quantile, root } from '../lib.mjs';
import { startServers, stopServers } from './servers.mjs';

export async function recovery(ctx, kind, { viewers, rate, seconds }) {
  const projects = Array.from({ length: 10 }, (_, i) => `recovery${i}`);
  const replicas = await startServers(kind, 3, ctx.redis.url, ctx);
  const load = fork(
    join(root, 'bench', 'load', 'resuming-viewers.mjs'),
    [
      JSON.stringify({
        urls: replicas.map((r) => r.url),
        viewers,
        projects,
        token: ctx.viewerToken,
        resume: kind === 'gateway',
      }),
    ],
    { stdio: 'inherit' },
  );
  try {
    await new Promise((resolve, reject) => {
      load.once('message', resolve);
      load.once('exit', (c) => reject(new Error(`viewers exited ${c}`)));
    });
    const sent = Object.fromEntries(projects.map((p) => [p, []]));
    const total = rate * seconds;
    const killAt = Math.floor(total * 0.4);
    const started = Date.now();
    let failures = 0;
    const inflight = new Set();
    for (let n = 0; n < total; n++) {
      const due = started + (n * 1000) / rate;
      const wait = due - Date.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      if (n === killAt) {
        replicas[0].child.kill('SIGKILL');
        load.send({ type: 'killed', at: Date.now() });
      }
      const projectId = projects[n % projects.length];
      const taskId = `r${n}`;
      const p = fetch(`${replicas[2].url}/api/projects/${projectId}/events`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${ctx.serviceToken}`,
        },
        body: JSON.stringify({
          type: 'task.status.changed',
          data: { taskId, from: null, to: 'planning' },
        }),
      })
        .then((res) => {
          if (res.status === 202) sent[projectId].push(taskId);
          else failures++;
          return res.arrayBuffer();
        })
        .catch(() => failures++)
        .finally(() => inflight.delete(p));
      inflight.add(p);
    }
    await Promise.all(inflight);
    const expectedDeliveries = projects.reduce(
      (sum, p, i) => sum + sent[p].length * Math.ceil((viewers - i) / projects.length),
      0,
    );
    await new Promise((resolve) => {
      const deadline = setTimeout(resolve, 3000);
      load.on('message', (m) => m.type === 'complete' && (clearTimeout(deadline), resolve()));
      load.send({ type: 'expect', total: expectedDeliveries });
    });
    const report = await new Promise((resolve) => {
      load.on('message', (m) => m.type === 'report' && resolve(m));
      load.send({ type: 'report' });
    });
    let lost = 0;
    for (const v of report.viewers) {
      const got = new Set(v.ids);
      for (const id of sent[v.projectId]) if (!got.has(id)) lost++;
    }
    const times = report.reconnectMs.sort((a, b) => a - b);
    return {
      viewers,
      rate,
      seconds,
      moved: report.moved,
      resubscribed: times.length,
      reconnectP50: quantile(times, 0.5),
      reconnectP95: quantile(times, 0.95),
      reconnectMax: times.at(-1) ?? NaN,
      delivered: report.received,
      expected: expectedDeliveries,
      lost,
      duplicates: report.duplicates,
      publishFailures: failures,
    };
  } finally {
    load.kill('SIGKILL');
    await stopServers(replicas, false);
  }
}
