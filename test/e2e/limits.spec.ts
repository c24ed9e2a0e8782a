import { GatewayProcess } from '../support/gateway-process.js';
import { http } from '../support/http.js';
import { eventually } from '../support/metrics.js';
import { RawEngine } from '../support/raw-engine.js';
import { RedisServer } from '../support/redis-server.js';
import { serviceToken, token } from '../support/tokens.js';
import { Viewer, connectRefused } from '../support/viewer.js';

const ALLOWED_ORIGIN = 'https://app.example.com';

/**
 * Limits that keep one client from hurting the others, held in Redis so they
 * hold across replicas. Every test comes from its own (forwarded) address, as
 * if behind a trusted load balancer, so the handshake limit is per test.
 */
describe('abuse limits across replicas', () => {
  let redis: RedisServer;
  let replicas: GatewayProcess[];
  const viewers: Viewer[] = [];
  let ip = 0;
  const address = () => `10.20.${Math.floor(++ip / 250)}.${ip % 250}`;
  const env = () => ({
    REDIS_URL: redis.url,
    REDIS_KEY_PREFIX: `lm${process.pid}`,
    TRUSTED_PROXIES: '127.0.0.1',
    CORS_ORIGINS: ALLOWED_ORIGIN,
    RATE_LIMIT_HANDSHAKES_PER_MINUTE: '5',
    MAX_CONNECTIONS_PER_USER: '3',
    CONNECTION_LEASE_SECONDS: '3',
    RATE_LIMIT_MESSAGES_PER_SECOND: '5',
    RATE_LIMIT_ABUSE_REJECTIONS: '20',
    RATE_LIMIT_PUBLISH_PER_SECOND: '5',
    MAX_SUBSCRIPTIONS_PER_SOCKET: '3',
    MAX_MESSAGE_BYTES: '4096',
    CONNECT_TIMEOUT_MS: '1000',
  });
  const connect = async (replica: GatewayProcess, t: string) => {
    const v = await Viewer.connect(replica.url, t, { forwardedFor: address() });
    viewers.push(v);
    return v;
  };
  const handshake = (replica: GatewayProcess, forwardedFor: string) =>
    fetch(`${replica.url}/socket.io/?EIO=4&transport=polling`, {
      headers: { 'X-Forwarded-For': forwardedFor },
    });

  beforeAll(async () => {
    redis = await RedisServer.start();
    replicas = await Promise.all([0, 1].map(() => GatewayProcess.start(env())));
  }, 60_000);

  afterEach(() => viewers.splice(0).forEach((v) => v.close()));

  afterAll(async () => {
    await Promise.all((replicas ?? []).map((r) => r.kill()));
    await redis?.stop();
  });

  it('refuses handshakes over the per-address limit with 429 before any work, counted across replicas', async () => {
    const from = address();
    for (let i = 0; i < 5; i++) {
      expect((await handshake(replicas[i % 2], from)).status).toBe(200);
    }
    const refused = await handshake(replicas[1], from);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await refused.json()).toMatchObject({ error: { code: 'RATE_LIMITED' } });
    // A WebSocket upgrade from that address is refused the same way.
    await expect(RawEngine.open(replicas[0].url, { 'X-Forwarded-For': from })).rejects.toThrow(
      'HTTP 429',
    );
    // Another address is unaffected.
    expect((await handshake(replicas[0], address())).status).toBe(200);
  });

  it('does not let a client pick its address when its peer is not a trusted proxy', async () => {
    const direct = await GatewayProcess.start({ ...env(), TRUSTED_PROXIES: '' });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 7; i++) statuses.push((await handshake(direct, address())).status);
      // All count as 127.0.0.1, whatever X-Forwarded-For says.
      expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
    } finally {
      await direct.kill();
    }
  });

  it('caps concurrent connections per user across replicas with TOO_MANY_CONNECTIONS, and frees a slot on close', async () => {
    const t = token({ sub: 'capped' });
    const first = await connect(replicas[0], t);
    await connect(replicas[0], t);
    await connect(replicas[1], t);
    const err = await connectRefused(replicas[1].url, t, { forwardedFor: address() });
    expect(err.message).toBe('TOO_MANY_CONNECTIONS');
    expect(err.data?.code).toBe('TOO_MANY_CONNECTIONS');
    // Other users are not affected.
    await connect(replicas[1], token({ sub: 'someone-else' }));

    first.close();
    await eventually(async () => {
      try {
        await connect(replicas[1], t);
        return true;
      } catch {
        return false;
      }
    });
  });

  it("frees a crashed replica's slots after one lease time, so a crash never locks a user out", async () => {
    const t = token({ sub: 'crash' });
    const doomed = await GatewayProcess.start(env());
    await Viewer.connect(doomed.url, t, { forwardedFor: address() }).then((v) => viewers.push(v));
    await Viewer.connect(doomed.url, t, { forwardedFor: address() }).then((v) => viewers.push(v));
    await connect(replicas[0], t);
    expect((await connectRefused(replicas[0].url, t, { forwardedFor: address() })).message).toBe(
      'TOO_MANY_CONNECTIONS',
    );
    const killedAt = Date.now();
    await doomed.kill('SIGKILL');
    await eventually(
      async () => {
        try {
          await connect(replicas[0], t);
          return true;
        } catch {
          return false;
        }
      },
      10_000,
      'a slot to expire',
    );
    // Not before the lease (3 s) could have run out.
    expect(Date.now() - killedAt).toBeGreaterThan(1000);
  });

  it('answers RATE_LIMITED past the per-socket message rate, and disconnects sustained abuse', async () => {
    const v = await connect(replicas[0], token({ sub: 'chatty' }));
    const burst = await Promise.all(
      Array.from({ length: 15 }, () => v.emit('unsubscribe', { projectId: 'p' })),
    );
    const limited = burst.filter((a) => a.error?.code === 'RATE_LIMITED').length;
    expect(limited).toBeGreaterThan(0);
    expect(burst.filter((a) => a.ok)).toHaveLength(15 - limited);

    const reason = new Promise<string>((resolve) => v.socket.once('disconnect', resolve));
    for (let i = 0; i < 40; i++) v.socket.emit('unsubscribe', { projectId: 'p' }, () => undefined);
    expect(await reason).toBe('io server disconnect');
  });

  it('limits subscriptions per socket', async () => {
    const v = await connect(replicas[1], token({ sub: 'collector' }));
    for (const p of ['a', 'b', 'c']) {
      expect(await v.subscribe({ projectId: p })).toMatchObject({ ok: true });
    }
    expect(await v.subscribe({ projectId: 'd' })).toMatchObject({
      ok: false,
      error: { code: 'RATE_LIMITED' },
    });
    // Replacing an existing subscription is not a new one.
    expect(await v.subscribe({ projectId: 'a', types: ['task.*'] })).toMatchObject({ ok: true });
  });

  it('limits publish requests per token across replicas (429 with Retry-After)', async () => {
    const t = serviceToken();
    const body = { type: 'task.status.changed', data: { taskId: 't', from: null, to: 'active' } };
    for (let i = 0; i < 5; i++) {
      const res = await http('POST', `${replicas[0].url}/api/projects/pub/events`, {
        token: t,
        body,
      });
      expect(res.status).toBe(202);
    }
    const refused = await http('POST', `${replicas[1].url}/api/projects/pub/events`, {
      token: t,
      body,
    });
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ error: { code: 'RATE_LIMITED' } });
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // Another publishing token has its own budget.
    const other = token({ sub: 'svc-other', scope: 'events:publish' });
    const res = await http('POST', `${replicas[1].url}/api/projects/pub/events`, {
      token: other,
      body,
    });
    expect(res.status).toBe(202);
  });

  it('closes a connection that sends a message over MAX_MESSAGE_BYTES, and one that never completes its handshake', async () => {
    const v = await connect(replicas[0], token({ sub: 'big' }));
    const reason = new Promise<string>((resolve) => v.socket.once('disconnect', resolve));
    v.socket.emit('subscribe', { projectId: 'p', padding: 'x'.repeat(8000) });
    expect(await reason).toBe('transport close');

    const silent = await RawEngine.open(replicas[1].url, { 'X-Forwarded-For': address() });
    const started = Date.now();
    await silent.closed;
    expect(Date.now() - started).toBeLessThan(5000);
    expect((await http('GET', `${replicas[0].url}/readyz`)).status).toBe(200);
  });

  it('sends Helmet security headers and answers CORS only for allowed origins', async () => {
    const res = await fetch(`${replicas[0].url}/healthz`);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(res.headers.get('x-powered-by')).toBeNull();
    const preflight = (origin: string) =>
      fetch(`${replicas[0].url}/api/projects/p/events`, {
        method: 'OPTIONS',
        headers: {
          Origin: origin,
          'Access-Control-Request-Method': 'POST',
          'Access-Control-Request-Headers': 'authorization,content-type',
        },
      });
    expect((await preflight(ALLOWED_ORIGIN)).headers.get('access-control-allow-origin')).toBe(
      ALLOWED_ORIGIN,
    );
    expect(
      (await preflight('https://evil.example.com')).headers.get('access-control-allow-origin'),
    ).toBeNull();
  });
});
