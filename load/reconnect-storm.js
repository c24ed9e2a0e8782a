// k6 run load/reconnect-storm.js -e TARGETS=http://localhost:8080 -e TOKEN=<viewer jwt>
// VUS clients that connect, subscribe, stay a moment and leave, over and over:
// what a deploy or a network blip does to a fleet of dashboards. Measures the
// time to a subscribed state and the refusals.
import ws from 'k6/ws';
import { check } from 'k6';
import { Counter, Trend } from 'k6/metrics';
import { SocketIoSession, socketUrl } from './lib/socketio.js';
import { projectFor, settings } from './lib/config.js';

const cfg = settings(__ENV);
const subscribed = new Trend('time_to_subscribed', true);
const refused = new Counter('connections_refused');

export const options = {
  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(95)', 'p(99)'],
  scenarios: {
    storm: { executor: 'constant-vus', vus: cfg.vus, duration: cfg.duration },
  },
  thresholds: {
    // A reconnecting dashboard is subscribed again quickly, and none is turned away.
    time_to_subscribed: ['p(95)<500'],
    connections_refused: ['count==0'],
  },
};

export default function () {
  const target = cfg.targets[(__VU + __ITER) % cfg.targets.length];
  const started = Date.now();
  const res = ws.connect(socketUrl(target), {}, (socket) => {
    const session = new SocketIoSession((frame) => socket.send(frame), { token: cfg.token });
    session.on('connect_error', () => {
      refused.add(1);
      socket.close();
    });
    session.on('connect', () => {
      session.emit('subscribe', { projectId: projectFor(__VU, cfg.projects) }, (ack) => {
        if (ack.ok) subscribed.add(Date.now() - started);
        else refused.add(1);
        socket.setTimeout(() => socket.close(), 200 + Math.random() * 800);
      });
    });
    socket.on('message', (text) => session.receive(text));
  });
  if (!res || res.status !== 101) refused.add(1);
  check(res, { 'upgraded to WebSocket': (r) => r && r.status === 101 });
}
