// The recovery scenario's load process: socket.io-client viewers that, when
// their connection drops, move to the next replica URL and subscribe again,
// with `since` (their last event id) when `resume` is on, as the protocol asks
// of a dashboard. The baseline has no `since`: its viewers just join again.
// Records per viewer which events arrived (by taskId) and when it was
// subscribed again after the parent reports the kill.
import { io } from 'socket.io-client';

const { urls, viewers, projects, token, resume } = JSON.parse(process.argv[2]);
const state = [];
let received = 0;
let expected = -1;
let duplicates = 0;
let killedAt = 0;
const sockets = new Set();

function connect(v, urlIndex, attempt = 0) {
  const socket = io(urls[urlIndex % urls.length], {
    auth: { token },
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
  });
  sockets.add(socket);
  socket.on('events', (events) => {
    for (const e of events) {
      if (++received === expected) process.send({ type: 'complete' });
      if (v.ids.has(e.data.taskId)) duplicates++;
      v.ids.add(e.data.taskId);
      v.lastId = e.id;
    }
  });
  socket.on('connect', () => {
    const payload = { projectId: v.projectId };
    if (resume && v.lastId) payload.since = v.lastId;
    socket.emit('subscribe', payload, (ack) => {
      if (!ack.ok) return;
      if (!v.lastId && ack.position) v.lastId = ack.position;
      if (v.subscribed) v.resubscribedAt.push(Date.now());
      v.subscribed = true;
      if (!v.ready) {
        v.ready = true;
        v.onReady();
      }
    });
  });
  const next = () => {
    sockets.delete(socket);
    socket.close();
    setTimeout(() => connect(v, urlIndex + 1, attempt + 1), Math.min(20 * 2 ** attempt, 500));
  };
  socket.on('connect_error', next);
  socket.on('disconnect', () => {
    v.disconnects++;
    sockets.delete(socket);
    connect(v, urlIndex + 1);
  });
}

await Promise.all(
  Array.from(
    { length: viewers },
    (_, i) =>
      new Promise((resolve) => {
        const v = {
          projectId: projects[i % projects.length],
          ids: new Set(),
          lastId: null,
          subscribed: false,
          ready: false,
          onReady: resolve,
          resubscribedAt: [],
          disconnects: 0,
        };
        state.push(v);
        connect(v, i);
      }),
  ),
);
process.send({ type: 'ready' });

process.on('message', (msg) => {
  if (msg.type === 'killed') {
    killedAt = msg.at;
    return;
  }
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
    reconnectMs: state
      .filter((v) => v.disconnects > 0 && v.resubscribedAt.length > 0)
      .map((v) => v.resubscribedAt[0] - killedAt),
    moved: state.filter((v) => v.disconnects > 0).length,
    viewers: state.map((v) => ({ projectId: v.projectId, ids: [...v.ids] })),
  });
  sockets.forEach((s) => s.close());
  setTimeout(() => process.exit(0), 100);
});
