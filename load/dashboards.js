// k6 run load/dashboards.js -e TARGETS=http://localhost:8080 -e TOKEN=<viewer jwt>
// 100 virtual dashboards (VUS) spread over TARGETS, each subscribed to one of
// PROJECTS projects for DURATION, measuring per-event latency from occurredAt.
// Run load/publisher.js alongside to give them something to watch.
import ws from 'k6/ws';
import { check } from 'k6';
import { Counter, Trend } from 'k6/metrics';
import { SocketIoSession, socketUrl } from './lib/socketio.js';
import { durationMs, projectFor, settings } from './lib/config.js';

const cfg = settings(__ENV);
const latency = new Trend('event_latency', true);
const received = new Counter('events_received');
const duplicates = new Counter('events_duplicated');
const gaps = new Counter('events_gaps');
const resyncs = new Counter('resyncs');
const subscribeFailures = new Counter('subscribe_failures');

export const options = {
  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(95)', 'p(99)'],
  scenarios: {
    dashboards: { executor: 'constant-vus', vus: cfg.vus, duration: cfg.duration },
  },
  thresholds: {
    // Live delivery: 95% of events within 100 ms of publish, 99% within 250 ms.
    event_latency: ['p(95)<100', 'p(99)<250'],
    // Exactly once, in order: no duplicate, no gap, every subscribe accepted.
    events_duplicated: ['count==0'],
    events_gaps: ['count==0'],
    subscribe_failures: ['count==0'],
  },
};

export default function () {
  const target = cfg.targets[(__VU - 1) % cfg.targets.length];
  const projectId = projectFor(__VU, cfg.projects);
  let lastId = null;
  const lastSeq = {};
  const res = ws.connect(socketUrl(target), {}, (socket) => {
    const session = new SocketIoSession((frame) => socket.send(frame), { token: cfg.token });
    session.on('connect', () => {
      const payload = lastId ? { projectId, since: lastId } : { projectId };
      session.emit('subscribe', payload, (ack) => {
        if (!ack.ok) subscribeFailures.add(1);
        else if (ack.resync) resyncs.add(1);
      });
    });
    session.on('events', (events) => {
      const now = Date.now();
      for (const event of events) {
        if (lastId !== null && compareIds(event.id, lastId) <= 0) {
          duplicates.add(1);
          continue;
        }
        lastId = event.id;
        received.add(1);
        latency.add(now - Date.parse(event.occurredAt));
        // Publisher events carry `<publisher vu>-<iteration>`: iterations of one VU are consecutive.
        const match = /^pub(\d+)-(\d+)$/.exec(event.data.taskId || '');
        if (match) {
          const [, vu, iter] = match;
          if (lastSeq[vu] !== undefined && Number(iter) !== lastSeq[vu] + 1) gaps.add(1);
          lastSeq[vu] = Number(iter);
        }
      }
    });
    session.on('subscription:resync', () => resyncs.add(1));
    socket.on('message', (text) => session.receive(text));
    socket.setTimeout(() => socket.close(), durationMs(cfg.duration));
  });
  check(res, { 'upgraded to WebSocket': (r) => r && r.status === 101 });
}

function compareIds(a, b) {
  const [am, as] = a.split('-').map(Number);
  const [bm, bs] = b.split('-').map(Number);
  return am - bm || as - bs;
}
