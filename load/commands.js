// k6 run load/commands.js -e TARGETS=<replica urls> -e AGENT_TOKENS=<a,b,...> -e OPERATOR_TOKENS=<a,b,...>
// Dashboards sending commands to agents across replicas, and the round trip
// each one takes: an operator VU asks (`command:request`), an agent VU
// (connected to another replica) accepts and completes it, and the operator
// sees `command.completed` on the project stream.
//
// - AGENT_TOKENS: one agent token per agent VU (role `agent`, `sub` agent-<i>
//   for i = 0.., projects [COMMAND_PROJECT]).
// - OPERATOR_TOKENS: one token per operator VU (`agents:command` for
//   COMMAND_PROJECT): the command rate limit is per user.
// - RATE: commands per second in all (default 50), spread over the operators.
// `npm run load` signs these and runs this script against the local cluster.
import ws from 'k6/ws';
import { check } from 'k6';
import exec from 'k6/execution';
import { Counter, Trend } from 'k6/metrics';
import { SocketIoSession, socketUrl } from './lib/socketio.js';
import { durationMs, settings } from './lib/config.js';

const cfg = settings(__ENV);
const agentTokens = (__ENV.AGENT_TOKENS || '').split(',').filter(Boolean);
const operatorTokens = (__ENV.OPERATOR_TOKENS || '').split(',').filter(Boolean);
const project = __ENV.COMMAND_PROJECT || 'k6-commands';
const rate = Number(__ENV.RATE || 50);
/** Agents are up before the first command and stay until the last one is answered. */
const AGENT_LEAD_MS = 3000;
const DRAIN_MS = 5000;

const roundTrip = new Trend('command_round_trip', true);
const requested = new Counter('commands_requested');
const completed = new Counter('commands_completed');
const refused = new Counter('command_refusals');
const unfinished = new Counter('commands_unfinished');
const duplicated = new Counter('commands_run_twice');

export const options = {
  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(95)', 'p(99)'],
  scenarios: {
    agents: {
      executor: 'per-vu-iterations',
      vus: Math.max(1, agentTokens.length),
      iterations: 1,
      maxDuration: `${durationMs(cfg.duration) + AGENT_LEAD_MS + DRAIN_MS + 30000}ms`,
      exec: 'agent',
    },
    operators: {
      executor: 'per-vu-iterations',
      vus: Math.max(1, operatorTokens.length),
      iterations: 1,
      startTime: `${AGENT_LEAD_MS}ms`,
      maxDuration: `${durationMs(cfg.duration) + DRAIN_MS + 30000}ms`,
      exec: 'operator',
    },
  },
  thresholds: {
    command_round_trip: ['p(95)<250', 'p(99)<500'],
    command_refusals: ['count==0'],
    commands_unfinished: ['count==0'],
    commands_run_twice: ['count==0'],
    commands_completed: ['count>0'],
  },
};

/** An agent: accepts and completes each command it is given, once. */
export function agent() {
  // VU numbers run on across scenarios; one iteration per VU numbers them within this one.
  const index = exec.scenario.iterationInTest;
  const target = cfg.targets[index % cfg.targets.length];
  const seen = {};
  const lifetime = durationMs(cfg.duration) + AGENT_LEAD_MS + DRAIN_MS;
  const res = ws.connect(socketUrl(target), {}, (socket) => {
    const session = new SocketIoSession((frame) => socket.send(frame), {
      token: agentTokens[index],
    });
    session.on('command', (delivery) => {
      if (seen[delivery.commandId]) {
        duplicated.add(1);
        return;
      }
      seen[delivery.commandId] = true;
      const report = { commandId: delivery.commandId, projectId: delivery.projectId };
      session.emit('command:accepted', report, () => {
        const done = { commandId: report.commandId, projectId: report.projectId, result: 'done' };
        session.emit('command:completed', done, () => undefined);
      });
    });
    socket.on('message', (text) => session.receive(text));
    socket.setTimeout(() => socket.close(), lifetime);
  });
  check(res, { 'agent upgraded to WebSocket': (r) => r && r.status === 101 });
}

/** An operator: subscribed to the project, asks agents in turn at its share of RATE. */
export function operator() {
  const index = exec.scenario.iterationInTest;
  // Another replica than the agents of the same index, so trips cross replicas.
  const target = cfg.targets[(index + 1) % cfg.targets.length];
  const everyMs = (1000 * operatorTokens.length) / rate;
  const sentAt = {};
  let open = 0;
  let seq = 0;
  let refusalsLogged = 0;
  const res = ws.connect(socketUrl(target), {}, (socket) => {
    const session = new SocketIoSession((frame) => socket.send(frame), {
      token: operatorTokens[index],
    });
    session.on('events', (events) => {
      const now = Date.now();
      for (const event of events) {
        if (event.type !== 'command.completed') continue;
        const at = sentAt[event.data.commandId];
        if (at === undefined) continue;
        delete sentAt[event.data.commandId];
        open--;
        completed.add(1);
        roundTrip.add(now - at);
      }
    });
    session.on('connect', () => {
      session.emit('subscribe', { projectId: project, types: ['command.*'] }, (ack) => {
        if (!ack.ok) {
          refused.add(1);
          return;
        }
        let stopped = false;
        const startedAt = Date.now();
        const send = () => {
          const commandId = `k6-${index}-${seq}`;
          const agentId = `agent-${(index + seq) % agentTokens.length}`;
          seq++;
          sentAt[commandId] = Date.now();
          open++;
          requested.add(1);
          session.emit(
            'command:request',
            {
              projectId: project,
              agentId,
              command: 'agent.instruct',
              args: { text: 'go' },
              commandId,
            },
            (reply) => {
              if (reply.ok) return;
              refused.add(1, { code: reply.error.code });
              if (refusalsLogged++ < 5)
                console.warn(`refused: ${reply.error.code} ${reply.error.message}`);
              delete sentAt[commandId];
              open--;
            },
          );
        };
        // k6's timers fire late under load, so each tick sends every command
        // due by the clock since the start: the rate holds on average.
        socket.setInterval(() => {
          if (stopped) return;
          const due = Math.floor((Date.now() - startedAt) / everyMs) + 1;
          while (seq < due) send();
        }, everyMs);
        socket.setTimeout(() => {
          stopped = true;
          socket.setTimeout(() => socket.close(), DRAIN_MS);
        }, durationMs(cfg.duration));
      });
    });
    socket.on('message', (text) => session.receive(text));
  });
  unfinished.add(open);
  check(res, { 'operator upgraded to WebSocket': (r) => r && r.status === 101 });
}
