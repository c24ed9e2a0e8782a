import type WebSocket from 'ws';
import type { GatewayProcess } from '../support/gateway-process.js';
import { http } from '../support/http.js';
import { openSession } from '../support/socketio-session.js';
import { TestStack } from '../support/stack.js';
import { serviceToken, token } from '../support/tokens.js';

interface RawViewer {
  bytesRead(): number;
  /** Resolves with every event once `count` have arrived. */
  events(count: number): Promise<{ id: string; data: { taskId: string } }[]>;
  close(): void;
}

/**
 * `live batches are compressed once per batch`: a viewer that offers
 * permessage-deflate gets each batch as one compressed frame, one that does
 * not (or limits the server's window below ours) gets it plain, and all of
 * them decode to the very same events.
 */
describe('events on the wire: one batch, compressed once for viewers that accept it', () => {
  let stack: TestStack;
  let replica: GatewayProcess;

  beforeAll(async () => {
    stack = await TestStack.start({ replicas: 1, prefix: `wc${process.pid}` });
    [replica] = stack.replicas;
  }, 30_000);

  afterAll(() => stack?.stop());

  const viewer = async (
    projectId: string,
    perMessageDeflate: WebSocket.ClientOptions['perMessageDeflate'],
  ): Promise<RawViewer> => {
    const { ws, session, outcome } = openSession(
      replica.url,
      { token: token() },
      { perMessageDeflate },
    );
    const received: { id: string; data: { taskId: string } }[] = [];
    let waiting: { count: number; resolve: () => void } | null = null;
    session.on('events', (batch: typeof received) => {
      received.push(...batch);
      if (waiting && received.length >= waiting.count) waiting.resolve();
    });
    const connected = await outcome;
    if (!connected.connected) throw new Error(JSON.stringify(connected.error));
    await new Promise<void>((resolve, reject) =>
      session.emit('subscribe', { projectId }, (ack: { ok: boolean }) =>
        ack.ok ? resolve() : reject(new Error(JSON.stringify(ack))),
      ),
    );
    const tcp = (ws as unknown as { _socket: { bytesRead: number } })._socket;
    return {
      bytesRead: () => tcp.bytesRead,
      events: (count) =>
        new Promise((resolve) => {
          const done = () => resolve(received.slice(0, count));
          if (received.length >= count) done();
          else waiting = { count, resolve: done };
        }),
      close: () => ws.close(),
    };
  };

  it('sends a batch compressed to a deflate viewer and plain to the others, same events to all', async () => {
    const projectId = 'wire1';
    const deflating = await viewer(projectId, true);
    const plain = await viewer(projectId, false);
    // Asks the server to keep its window at 2^9: our frames use 2^12, so this one gets plain ones.
    const smallWindow = await viewer(projectId, { serverMaxWindowBits: 9 });
    const viewers = [deflating, plain, smallWindow];
    try {
      const before = viewers.map((v) => v.bytesRead());
      const body = Array.from({ length: 50 }, (_, i) => ({
        type: 'task.status.changed',
        data: { taskId: `task-${i}`, from: 'planning', to: 'active' },
      }));
      const res = await http('POST', `${replica.url}/api/projects/${projectId}/events`, {
        token: serviceToken(),
        body,
      });
      expect(res.status).toBe(202);
      const got = await Promise.all(viewers.map((v) => v.events(50)));
      const bytes = viewers.map((v, i) => v.bytesRead() - before[i]);
      for (const events of got) {
        expect(events.map((e) => e.id)).toEqual(res.body.ids);
        expect(events.map((e) => e.data.taskId)).toEqual(body.map((e) => e.data.taskId));
      }
      expect(bytes[0]).toBeLessThan(bytes[1] / 4);
      expect(bytes[2]).toBeGreaterThan(bytes[1] * 0.9);
    } finally {
      viewers.forEach((v) => v.close());
    }
  });

  it('keeps replays and acks working for a deflate viewer (they are sent plain)', async () => {
    const projectId = 'wire2';
    const res = await http('POST', `${replica.url}/api/projects/${projectId}/events`, {
      token: serviceToken(),
      body: { type: 'task.status.changed', data: { taskId: 'x', from: null, to: 'active' } },
    });
    expect(res.status).toBe(202);
    const { ws, session, outcome } = openSession(replica.url, { token: token() });
    try {
      const replayed = new Promise<{ id: string }[]>((resolve) => session.on('events', resolve));
      expect(await outcome).toEqual({ connected: true });
      const ack = await new Promise<{ ok: boolean; replayed: number }>((resolve) =>
        session.emit('subscribe', { projectId, since: '0-0' }, resolve),
      );
      expect(ack).toMatchObject({ ok: true, replayed: 1 });
      expect((await replayed).map((e) => e.id)).toEqual(res.body.ids);
    } finally {
      ws.close();
    }
  });
});
