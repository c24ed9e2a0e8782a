// The baseline: a plain Socket.IO server with @socket.io/redis-adapter, the way
// most teams start. No auth, no history, no validation: POST /publish stamps
// occurredAt and broadcasts to the project's room through the adapter.
import { createServer } from 'node:http';
import { Server } from 'socket.io';
import { createAdapter } from '@socket.io/redis-adapter';
import { createClient } from 'redis';

const port = Number(process.env.PORT);
const pub = createClient({ url: process.env.REDIS_URL });
const sub = pub.duplicate();
await Promise.all([pub.connect(), sub.connect()]);

let seq = 0;
const http = createServer((req, res) => {
  if (req.method !== 'POST') return res.writeHead(404).end();
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    const input = JSON.parse(body);
    const projectId = req.url.split('/')[3];
    const event = {
      id: `${Date.now()}-${seq++}`,
      projectId,
      occurredAt: new Date().toISOString(),
      ...input,
    };
    io.to(`project:${projectId}`).emit('events', [event]);
    res
      .writeHead(202, { 'content-type': 'application/json' })
      .end(JSON.stringify({ ids: [event.id] }));
  });
});
const io = new Server(http, { adapter: createAdapter(pub, sub) });
io.on('connection', (socket) => {
  socket.on('subscribe', ({ projectId }, ack) => {
    void socket.join(`project:${projectId}`);
    ack({ ok: true, projectId });
  });
});
http.listen(port, '127.0.0.1', () => console.log(JSON.stringify({ msg: 'listening', port })));
process.on('SIGTERM', () => process.exit(0));
