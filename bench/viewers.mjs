// The load process: socket.io-client viewers spread over the replica URLs, each
// subscribed to one of the projects. It records, per viewer, which benchmark
// events arrived (by their taskId) and the publish-to-receive latency.
import { io } from 'socket.io-client';

const { urls, viewers, projects, token } = JSON.parse(process.argv[2]);
const seen = [];
const latencies = [];
let received = 0;
/** Deliveries the publisher expects; `complete` is sent when they are all in. */
let expected = -1;
let duplicates = 0;
const sockets = [];

await Promise.all(
  Array.from(
    { length: viewers },
    (_, i) =>
      new Promise((resolve, reject) => {
        const projectId = projects[i % projects.length];
        const socket = io(urls[i % urls.length], {
          auth: { token },
          transports: ['websocket'],
          reconnection: false,
          forceNew: true,
        });
        const mine = new Set();
        seen[i] = { projectId, ids: mine };
        socket.on('events', (events) => {
          const now = Date.now();
          for (const e of events) {
            if (++received === expected) process.send({ type: 'complete' });
            const key = e.data.taskId;
            if (mine.has(key)) duplicates++;
            mine.add(key);
            latencies.push(now - Date.parse(e.occurredAt));
          }
        });
        socket.on('connect', () =>
          socket.emit('subscribe', { projectId }, (ack) =>
            ack.ok ? resolve() : reject(new Error(JSON.stringify(ack))),
          ),
        );
        socket.on('connect_error', reject);
        sockets.push(socket);
      }),
  ),
);
process.send({ type: 'ready' });

process.on('message', (msg) => {
  if (msg.type === 'expect') {
    expected = msg.total;
    if (received >= expected) process.send({ type: 'complete' });
    return;
  }
  if (msg.type !== 'report') return;
  process.send({
    type: 'report',
    received,
    duplicates,
    latencies,
    viewers: seen.map((v) => ({ projectId: v.projectId, ids: [...v.ids] })),
  });
  sockets.forEach((s) => s.close());
  setTimeout(() => process.exit(0), 100);
});
