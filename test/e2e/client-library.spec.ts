import { fullJitterDelay } from '../../src/client/backoff.js';
import { GatewayClient } from '../../src/client/gateway-client.js';
import { tokenExpiry } from '../../src/client/token-source.js';
import type { ConnectionState, EventEnvelope, TransportName } from '../../src/client/types.js';
import { BlockingProxy } from '../support/blocking-proxy.js';
import { ANNOUNCED_MS, EarlyClosingReplica } from '../support/early-closing-replica.js';
import { GatewayProcess } from '../support/gateway-process.js';
import { http } from '../support/http.js';
import { eventually } from '../support/metrics.js';
import { TestStack } from '../support/stack.js';
import { strictlyIncreasingIds } from '../support/resuming-viewer.js';
import { serviceToken, token } from '../support/tokens.js';

describe('client library: pure parts', () => {
  it('backs off exponentially with full jitter, capped', () => {
    const max = () => 0.999999;
    expect([0, 1, 2, 3, 4, 5, 6].map((a) => fullJitterDelay(a, 1000, 30_000, max))).toEqual([
      999, 1999, 3999, 7999, 15999, 29999, 29999,
    ]);
    expect(fullJitterDelay(3, 1000, 30_000, () => 0)).toBe(0);
  });

  it('reads a token expiry without verifying it', () => {
    const t = token({ expiresIn: 60 });
    expect(tokenExpiry(t)! - Date.now()).toBeGreaterThan(55_000);
    expect(tokenExpiry('not-a-jwt')).toBeNull();
  });
});

/**
 * The client library against real replicas: it keeps going through a replica
 * kill, a token refresh, and transports blocked by a proxy, and the
 * application sees every event once, in order.
 */
describe('client library against real replicas', () => {
  let stack: TestStack;
  let replicas: GatewayProcess[];
  const clients: GatewayClient[] = [];
  const svc = serviceToken();
  let seq = 0;
  const project = () => `cl${Date.now().toString(36)}${++seq}`;

  const publish = async (via: GatewayProcess, projectId: string, n = 1) => {
    const body = Array.from({ length: n }, (_, i) => ({
      type: 'task.status.changed',
      data: { taskId: `t${seq}-${i}`, from: null, to: 'active' },
    }));
    const res = await http('POST', `${via.url}/api/projects/${projectId}/events`, {
      token: svc,
      body,
    });
    expect(res.status).toBe(202);
  };
  const streamIds = (projectId: string) => stack.streamIds(projectId);

  /** A client following one project, recording what the application would see. */
  const follow = (options: ConstructorParameters<typeof GatewayClient>[0], projectId: string) => {
    const c = new GatewayClient({ batch: 10, initialBackoffMs: 100, ...options });
    clients.push(c);
    const seen: EventEnvelope[] = [];
    const states: [ConnectionState, TransportName | null][] = [];
    let snapshots = 0;
    c.onState((state, transport) => states.push([state, transport]));
    c.subscribe(projectId, {
      onEvents: (events) => seen.push(...events),
      onSnapshot: () => snapshots++,
    });
    return {
      client: c,
      seen,
      states,
      snapshots: () => snapshots,
      live: (transport?: TransportName) =>
        eventually(
          () => Promise.resolve(c.state === 'live' && (!transport || c.transport === transport)),
          15_000,
          `live${transport ? ` on ${transport}` : ''}`,
        ),
    };
  };

  beforeAll(async () => {
    stack = await TestStack.start({ replicas: 2, prefix: `cl${process.pid}` });
    replicas = stack.replicas;
  }, 60_000);

  afterEach(() => clients.splice(0).forEach((c) => c.close()));

  afterAll(async () => {
    await stack?.stop();
  });

  it('reconnects to another replica after a kill and resumes with no gap and no duplicate', async () => {
    const doomed = await GatewayProcess.start(stack.env());
    const p = project();
    const f = follow({ url: [doomed.url, replicas[0].url], token: token() }, p);
    await f.live('websocket');
    await publish(replicas[1], p, 5);
    await eventually(() => Promise.resolve(f.seen.length === 5));
    await doomed.kill('SIGKILL');
    await eventually(() => Promise.resolve(f.client.state === 'reconnecting'));
    await publish(replicas[1], p, 5); // while it is away
    await f.live('websocket');
    await publish(replicas[1], p, 5);
    const ids = await streamIds(p);
    await eventually(() => Promise.resolve(f.seen.length >= ids.length));
    expect(strictlyIncreasingIds(f.seen)).toEqual(ids);
    expect(f.snapshots()).toBe(1);
    expect(f.states.map(([s]) => s)).toEqual(['connecting', 'live', 'reconnecting', 'live']);
  });

  it('honours server:draining: moves to the next replica when told, losing nothing', async () => {
    const draining = await GatewayProcess.start({
      ...stack.env(),
      DRAIN_WINDOW_MS: '2000',
    });
    const p = project();
    // A long backoff: only the drain notice can make it move quickly.
    const f = follow(
      {
        url: [draining.url, replicas[0].url],
        token: token(),
        initialBackoffMs: 600_000,
        maxBackoffMs: 600_000,
      },
      p,
    );
    await f.live('websocket');
    await publish(replicas[1], p, 3);
    const exited = draining.kill('SIGTERM');
    await eventually(() => Promise.resolve(f.states.length >= 4), 10_000, 'a move');
    await f.live('websocket');
    await publish(replicas[1], p, 3);
    expect(await exited).toBe(0);
    const ids = await streamIds(p);
    await eventually(() => Promise.resolve(f.seen.length >= ids.length));
    expect(strictlyIncreasingIds(f.seen)).toEqual(ids);
    expect(f.states.map(([s]) => s)).toEqual(['connecting', 'live', 'reconnecting', 'live']);
  });

  it.each(['websocket', 'sse'] as const)(
    'moves at once, not after a backoff, when a draining replica closes before the time it announced (%s)',
    async (transport) => {
      const early = await EarlyClosingReplica.start();
      try {
        const p = project();
        // A long backoff and a far announced time: only treating the close as a move is quick.
        const f = follow(
          {
            url: [early.url, replicas[0].url],
            token: token(),
            transports: [transport],
            initialBackoffMs: ANNOUNCED_MS,
            maxBackoffMs: ANNOUNCED_MS,
          },
          p,
        );
        await eventually(() => Promise.resolve(f.states.length >= 4), 10_000, 'a move');
        await f.live(transport);
        await publish(replicas[1], p, 3);
        await eventually(() => Promise.resolve(f.seen.length === 3));
        expect(f.states).toEqual([
          ['connecting', null],
          ['live', transport],
          ['reconnecting', null],
          ['live', transport],
        ]);
      } finally {
        await early.stop();
      }
    },
  );

  it('refreshes its token before expiry and keeps the session past the first token', async () => {
    const p = project();
    let issued = 0;
    const provider = () => {
      issued++;
      return token({ sub: 'refresher', expiresIn: 4 });
    };
    const f = follow({ url: replicas[0].url, token: provider, refreshBeforeMs: 3000 }, p);
    await f.live('websocket');
    const firstExpiry = Date.now() + 4000;
    await eventually(
      () => Promise.resolve(Date.now() > firstExpiry + 1000),
      8000,
      'the first expiry',
    );
    expect(issued).toBeGreaterThanOrEqual(3);
    expect(f.client.state).toBe('live');
    await publish(replicas[1], p, 1);
    await eventually(() => Promise.resolve(f.seen.length === 1));
    // Never dropped: the session was extended, not replaced.
    expect(f.states.map(([s]) => s)).toEqual(['connecting', 'live']);
  }, 20_000);

  it('falls back to SSE when WebSocket is blocked, to polling when SSE is too, and goes back up when it can', async () => {
    const proxy = await BlockingProxy.start(replicas[0].url);
    // Short probes and timeouts, so each fallback and upgrade happens within the test.
    const options = () => ({
      url: proxy.url,
      token: token(),
      pollIntervalMs: 200,
      upgradeProbeMs: 500,
      connectTimeoutMs: 2000,
    });
    try {
      proxy.blockWebSocket = true;
      const p = project();
      const f = follow(options(), p);
      await f.live('sse');
      await publish(replicas[1], p, 3);
      await eventually(() => Promise.resolve(f.seen.length === 3));

      // SSE blocked as well: the next connection ends up polling.
      proxy.blockSse = true;
      f.client.close();
      const g = follow(options(), p);
      await g.live('polling');
      await publish(replicas[1], p, 3);
      await eventually(() => Promise.resolve(g.seen.length === 3));

      // The proxy lets WebSocket through again: the client probes and moves up.
      proxy.blockWebSocket = false;
      proxy.blockSse = false;
      await g.live('websocket');
      await publish(replicas[1], p, 3);
      await eventually(() => Promise.resolve(g.seen.length === 6));
      const ids = await streamIds(p);
      expect(strictlyIncreasingIds(g.seen)).toEqual(ids.slice(3));
      expect(g.states.map(([, t]) => t).filter(Boolean)).toEqual(['polling', 'websocket']);
    } finally {
      await proxy.stop();
    }
  }, 40_000);

  it('keeps publishes made while the gateway is stopped, in order, and delivers each exactly once after it restarts', async () => {
    const gateway = await GatewayProcess.start(stack.env());
    const env = stack.env({ PORT: String(gateway.port) });
    let restarted: GatewayProcess | null = null;
    try {
      const p = project();
      const publisher = new GatewayClient({
        url: gateway.url,
        token: svc,
        transports: ['websocket'],
        initialBackoffMs: 100,
        maxBackoffMs: 500,
      });
      clients.push(publisher);
      publisher.subscribe(p);
      await eventually(() => Promise.resolve(publisher.state === 'live'));
      const first = await publisher.publish(p, {
        type: 'task.status.changed',
        data: { taskId: 'before', from: null, to: 'active' },
      });
      expect(first).toEqual({ ids: [expect.any(String)], replayed: false });

      await gateway.kill('SIGKILL');
      const writes = Array.from({ length: 20 }, (_, i) =>
        publisher.publish(p, {
          type: 'task.status.changed',
          data: { taskId: `t${i}`, from: null, to: 'active' },
        }),
      );
      expect(publisher.queuedWrites).toBe(20);
      restarted = await GatewayProcess.start(env);
      const results = await Promise.all(writes);
      expect(publisher.queuedWrites).toBe(0);

      const stored = await stack.client.xrange(`${stack.prefix}:{${p}}:events`, '-', '+');
      const taskIds = stored.map(
        ([, f]) => (JSON.parse(f[1]) as { data: { taskId: string } }).data.taskId,
      );
      expect(taskIds).toEqual(['before', ...Array.from({ length: 20 }, (_, i) => `t${i}`)]);
      expect(results.map((r) => r.ids[0])).toEqual(stored.slice(1).map(([id]) => id));
    } finally {
      await restarted?.kill();
    }
  }, 60_000);

  it('reports a publish it cannot keep: over the bound at once, past its time when it expires, refused ones with their code', async () => {
    const gateway = await GatewayProcess.start(stack.env());
    const p = project();
    const c = new GatewayClient({
      url: gateway.url,
      token: svc,
      transports: ['websocket'],
      maxQueuedWrites: 2,
      writeTtlMs: 300,
      initialBackoffMs: 50,
      maxBackoffMs: 100,
    });
    clients.push(c);
    const bad = c.publish(p, { type: 'nope.unknown', data: {} } as never);
    await expect(bad).rejects.toMatchObject({ code: 'INVALID_PAYLOAD' });
    await gateway.kill('SIGKILL');
    const task = (taskId: string) =>
      ({ type: 'task.status.changed', data: { taskId, from: null, to: 'active' } }) as const;
    const waiting = [c.publish(p, task('a')), c.publish(p, task('b'))];
    await expect(c.publish(p, task('c'))).rejects.toMatchObject({ code: 'QUEUE_FULL' });
    for (const w of waiting) await expect(w).rejects.toMatchObject({ code: 'EXPIRED' });
    expect(c.queuedWrites).toBe(0);
  }, 30_000);

  it('goes offline with an error for a token the gateway refuses', async () => {
    const errors: string[] = [];
    const c = new GatewayClient({
      url: replicas[0].url,
      token: 'bad.token.here',
      initialBackoffMs: 50,
    });
    clients.push(c);
    c.subscribe('x', { onError: (e) => errors.push(e.code) });
    await eventually(() => Promise.resolve(c.state === 'offline'));
    expect(errors).toContain('UNAUTHORIZED');
  });
});
