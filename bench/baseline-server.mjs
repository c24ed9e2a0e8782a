// The baseline: a plain Socket.IO server with @socket.io/redis-adapter, the way
// most teams start. No auth, no history, no validation: POST
// /api/projects/:id/events takes one event or an array (the publisher sends
// the same requests to both), stamps id and occurredAt, and broadcasts them as
// one `events` frame to the project's room through the adapter.
// GET /api/projects/:id/snapshot answers one hash of latest envelopes (the
// snapshot scenario seeds it in Redis).
// GET /stats answers its event-loop delay since the last call (like the
// gateway's prom-client figures, 10 ms resolution).
import { createServer } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Server } from 'socket.io';
import { createAdapter } from '@socket.io/redis-adapter';
import { createShardedAdapter } from '@socket.io/redis-adapter/dist/sharded-adapter.js';
import { createClient, createCluster } from 'redis';

const port = Number(process.env.PORT);
// On a Redis Cluster (REDIS_CLUSTER_NODES), the adapter's sharded form, as its
// docs advise for a cluster: one sharded channel per room, spread over shards.
const clusterNodes = process.env.REDIS_CLUSTER_NODES?.split(',');
const pub = clusterNodes
  ? createCluster({ rootNodes: clusterNodes.map((node) => ({ url: `redis://${node}` })) })
  : createClient({ url: process.env.REDIS_URL });
const sub = pub.duplicate();
await Promise.all([pub.connect(), sub.connect()]);
const adapter = clusterNodes
  ? createShardedAdapter(pub, sub, { subscriptionMode: 'dynamic' })
  : createAdapter(pub, sub);
const loop = monitorEventLoopDelay({ resolution: 10 });
loop.enable();

let seq = 0;
const http = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/stats') {
    const body = JSON.stringify({
      loopP99Ms: loop.percentile(99) / 1e6,
      loopMaxMs: loop.max / 1e6,
    });
    loop.reset();
    return res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  }
  const snapshot = /^\/api\/projects\/([^/]+)\/snapshot$/.exec(req.url ?? '');
  if (req.method === 'GET' && snapshot) {
    // What a hand-written snapshot endpoint does: one hash of latest envelopes, JSON out.
    void pub.hGetAll(`baseline:{${snapshot[1]}}:state`).then((fields) => {
      const body = JSON.stringify({
        position: '0-0',
        snapshot: Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, JSON.parse(v)])),
      });
      res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    });
    return;
  }
  if (req.method !== 'POST') return res.writeHead(404).end();
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    const parsed = JSON.parse(body);
    const inputs = Array.isArray(parsed) ? parsed : [parsed];
    const projectId = req.url.split('/')[3];
    const occurredAt = new Date().toISOString();
    const events = inputs.map((input) => ({
      id: `${Date.now()}-${seq++}`,
      projectId,
      occurredAt,
      ...input,
    }));
    io.to(`project:${projectId}`).emit('events', events);
    res
      .writeHead(202, { 'content-type': 'application/json' })
      .end(JSON.stringify({ ids: events.map((e) => e.id) }));
  });
});
const io = new Server(http, { adapter });
io.on('connection', (socket) => {
  socket.on('subscribe', ({ projectId }, ack) => {
    void socket.join(`project:${projectId}`);
    ack({ ok: true, projectId });
  });
});
http.listen(port, '127.0.0.1', () => console.log(JSON.stringify({ msg: 'listening', port })));
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
