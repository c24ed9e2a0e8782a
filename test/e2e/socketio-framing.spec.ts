import {
  SocketIoSession,
  connectFrame,
  eventFrame,
  parseFrame,
  socketUrl,
} from '../../load/lib/socketio.js';
import type { GatewayProcess } from '../support/gateway-process.js';
import { http } from '../support/http.js';
import { openSession } from '../support/socketio-session.js';
import { TestStack } from '../support/stack.js';
import { serviceToken, token } from '../support/tokens.js';

describe('Socket.IO framing used by the k6 scripts', () => {
  it('builds and parses the frames', () => {
    expect(socketUrl('http://gw:8080/')).toBe('ws://gw:8080/socket.io/?EIO=4&transport=websocket');
    expect(connectFrame({ token: 't' })).toBe('40{"token":"t"}');
    expect(eventFrame('subscribe', [{ projectId: 'p' }], 7)).toBe(
      '427["subscribe",{"projectId":"p"}]',
    );
    expect(eventFrame('x', [1])).toBe('42["x",1]');
    expect(parseFrame('0{"sid":"a","pingInterval":25000,"pingTimeout":20000}')).toMatchObject({
      kind: 'open',
    });
    expect(parseFrame('2')).toEqual({ kind: 'ping' });
    expect(parseFrame('40{"sid":"s1"}')).toEqual({ kind: 'connect', data: { sid: 's1' } });
    expect(parseFrame('44{"message":"UNAUTHORIZED"}')).toMatchObject({ kind: 'connect_error' });
    expect(parseFrame('4312[{"ok":true}]')).toEqual({ kind: 'ack', id: 12, args: [{ ok: true }] });
    expect(parseFrame('42["events",[{"id":"1-0"}]]')).toEqual({
      kind: 'event',
      name: 'events',
      args: [[{ id: '1-0' }]],
      ackId: null,
    });
  });

  it('answers pings with pongs and connects once Engine.IO opens', () => {
    const sent: string[] = [];
    const session = new SocketIoSession((f) => sent.push(f), { token: 'x' });
    session.receive('0{"sid":"a","pingInterval":25000,"pingTimeout":20000}');
    session.receive('2');
    expect(sent).toEqual(['40{"token":"x"}', '3']);
  });

  describe('against a real replica over a real WebSocket', () => {
    let stack: TestStack;
    let replica: GatewayProcess;

    beforeAll(async () => {
      stack = await TestStack.start({ replicas: 1, prefix: `fr${process.pid}` });
      [replica] = stack.replicas;
    }, 30_000);

    afterAll(() => stack?.stop());

    const open = (auth: unknown) => openSession(replica.url, auth);

    it('connects with a token, subscribes with an ack, and receives published events', async () => {
      const { ws, session, outcome } = open({ token: token() });
      try {
        expect(await outcome).toEqual({ connected: true });
        const ack = await new Promise<{ ok: boolean; position: string }>((resolve) =>
          session.emit('subscribe', { projectId: 'k6' }, resolve),
        );
        expect(ack).toMatchObject({ ok: true, position: '0-0' });
        const received = new Promise<{ id: string; type: string }[]>((resolve) =>
          session.on('events', resolve),
        );
        const res = await http('POST', `${replica.url}/api/projects/k6/events`, {
          token: serviceToken(),
          body: {
            type: 'task.status.changed',
            data: { taskId: 'pub1-0', from: null, to: 'active' },
          },
        });
        const [event] = await received;
        expect(event).toMatchObject({ id: res.body.ids[0], type: 'task.status.changed' });
        const bad = await new Promise<{ ok: boolean; error: { code: string } }>((resolve) =>
          session.emit('subscribe', { projectId: 'bad id' }, resolve),
        );
        expect(bad).toMatchObject({ ok: false, error: { code: 'INVALID_PAYLOAD' } });
      } finally {
        ws.close();
      }
    });

    it('sees a refused handshake as connect_error with the code', async () => {
      const { ws, outcome } = open({ token: 'nope' });
      try {
        expect(await outcome).toMatchObject({
          connected: false,
          error: { data: { code: 'UNAUTHORIZED' } },
        });
      } finally {
        ws.close();
      }
    });
  });
});
