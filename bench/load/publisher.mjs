// The publishing load process: POSTs events to the replicas' HTTP publish
// API at a fixed rate, in ticks. Each tick sends, per project, one request
// holding that project's events due in the tick (an array, as the API allows;
// the baseline takes the same requests). Requests round-robin over the
// replicas, so a project's events cross replicas to reach its viewers.
// Each event's `taskId` is its project's sequence number, which the viewers
// use to count loss and duplicates.
//
// `perRequest` (default 100, the API's most) caps the events of one request:
// 1 sends each event on its own.
//
// IPC: `run { urls, projects, token, rate, seconds, tickMs, perRequest }` answers
// `{ ranges: { projectId: [from, to) }, failures, refusals, requests }` once
// every request has been answered; events refused (not 202) are counted as
// failures, and the requests behind them in `refusals` by HTTP status (or
// `error:<code>` when the request itself failed).
import { Agent } from 'node:http';
import { postJson } from '../lib.mjs';

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

/** Next sequence number per project: sequences continue across runs. */
const next = new Map();

async function run({ id, urls, projects, token, rate, seconds, tickMs = 10, perRequest = 100 }) {
  const ticks = Math.max(1, Math.round((seconds * 1000) / tickMs));
  const perTick = (rate * tickMs) / 1000;
  const ranges = Object.fromEntries(projects.map((p) => [p, [next.get(p) ?? 0, next.get(p) ?? 0]]));
  let failures = 0;
  /** Refused requests by HTTP status, or `error:<code>` when the request itself failed, to say why. */
  const refusals = {};
  let requests = 0;
  let carry = 0;
  let round = 0;
  let projectCursor = 0;
  const inflight = new Set();
  const started = performance.now();
  for (let tick = 0; tick < ticks; tick++) {
    const due = started + tick * tickMs;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    carry += perTick;
    const count = Math.floor(carry);
    carry -= count;
    // Spread the tick's events over the projects, continuing where the last tick stopped.
    const byProject = new Map();
    for (let i = 0; i < count; i++) {
      const projectId = projects[projectCursor++ % projects.length];
      const seq = next.get(projectId) ?? 0;
      next.set(projectId, seq + 1);
      if (!byProject.has(projectId)) byProject.set(projectId, []);
      byProject.get(projectId).push(seq);
    }
    const batches = [];
    for (const [projectId, all] of byProject) {
      for (let i = 0; i < all.length; i += perRequest)
        batches.push([projectId, all.slice(i, i + perRequest)]);
    }
    for (const [projectId, seqs] of batches) {
      const url = urls[round++ % urls.length];
      requests++;
      const body = JSON.stringify(
        seqs.map((seq) => ({
          type: 'task.status.changed',
          data: { taskId: String(seq), from: null, to: 'planning' },
        })),
      );
      const p = postJson(`${url}/api/projects/${projectId}/events`, { agent, token, body })
        .then((status) => {
          if (status !== 202) {
            failures += seqs.length;
            refusals[status] = (refusals[status] ?? 0) + 1;
          }
        })
        .finally(() => inflight.delete(p));
      inflight.add(p);
    }
  }
  await Promise.all(inflight);
  for (const p of projects) ranges[p][1] = next.get(p) ?? ranges[p][0];
  process.send({
    id,
    ranges,
    failures,
    refusals,
    requests,
    seconds: (performance.now() - started) / 1000,
  });
}

process.on('message', (msg) => {
  if (msg.type === 'run') void run(msg);
  if (msg.type === 'close') process.exit(0);
});
process.send({ type: 'started' });
