import jwt from 'jsonwebtoken';
import type { EventEnvelope } from '../../src/core/envelope.js';
import { GatewayProcess } from '../support/gateway-process.js';
import { http } from '../support/http.js';
import { eventually } from '../support/metrics.js';
import { RedisServer } from '../support/redis-server.js';
import { TEST_AUDIENCE, TEST_ISSUER, TEST_SECRET, serviceToken, token } from '../support/tokens.js';
import { SseReader } from '../support/sse-client.js';
import { Viewer, connectRefused } from '../support/viewer.js';

/** A token issued at an explicit time (`iat` in seconds), so tests can place it before or after a revocation. */
const tokenIssuedAt = (iat: number, sub: string, projects: string[] = ['*'], scope?: string) =>
  jwt.sign({ sub, projects, iat, ...(scope ? { scope } : {}) }, TEST_SECRET, {
    algorithm: 'HS256',
    expiresIn: 3600,
    audience: TEST_AUDIENCE,
    issuer: TEST_ISSUER,
  });
const nowSeconds = () => Math.floor(Date.now() / 1000);

/** Waits until the clock is in a later second than `seconds`: tokens issued from then on postdate it. */
const nextSecondAfter = (seconds: number) =>
  eventually(() => Promise.resolve(nowSeconds() > seconds), 3000, 'the next second');

/**
 * A session's token over its life: refreshed, expired, revoked, on three
 * replicas sharing one Redis.
 */
describe('token lifetime and revocation', () => {
  let redis: RedisServer;
  let replicas: GatewayProcess[];
  const viewers: Viewer[] = [];
  const svc = serviceToken();
  const admin = token({ sub: 'ops', scope: 'admin' });
  let seq = 0;
  const user = () => `u${Date.now().toString(36)}${++seq}`;

  const connect = async (replica: GatewayProcess, t: string) => {
    const v = await Viewer.connect(replica.url, t);
    viewers.push(v);
    return v;
  };
  const publish = (projectId: string, taskId: string) =>
    http('POST', `${replicas[2].url}/api/projects/${projectId}/events`, {
      token: svc,
      body: { type: 'task.status.changed', data: { taskId, from: null, to: 'active' } },
    });
  const revoke = (body: unknown, t = admin, replica = replicas[2]) =>
    http('POST', `${replica.url}/api/admin/revocations`, { token: t, body });
  const serverEvent = <T>(v: Viewer, event: string) => v.next<T>(event);
  const disconnectReason = (v: Viewer) =>
    new Promise<string>((resolve) => v.socket.once('disconnect', (reason) => resolve(reason)));
  const taskIds = (events: EventEnvelope[]) =>
    events.map((e) => (e.data as { taskId: string }).taskId);

  beforeAll(async () => {
    redis = await RedisServer.start();
    const env = { REDIS_URL: redis.url, REDIS_KEY_PREFIX: `ss${process.pid}` };
    replicas = await Promise.all([0, 1, 2].map(() => GatewayProcess.start(env)));
  }, 60_000);

  afterEach(() => viewers.splice(0).forEach((v) => v.close()));

  afterAll(async () => {
    await Promise.all((replicas ?? []).map((r) => r.kill()));
    await redis?.stop();
  });

  describe('auth:refresh', () => {
    it('warns before expiry, extends the session with a new token of the same user, and keeps it past the old exp', async () => {
      const sub = user();
      const short = token({ sub, expiresIn: 2 });
      const v = await connect(replicas[0], short);
      // Shorter than the 60 s warning: `auth:expiring` comes at once.
      const { expiresAt } = await serverEvent<{ expiresAt: string }>(v, 'auth:expiring');
      expect(Date.parse(expiresAt)).toBeGreaterThan(Date.now() - 3000);

      const ack = await v.emit('auth:refresh', { token: token({ sub, expiresIn: 600 }) });
      expect(ack).toMatchObject({ ok: true });
      expect(Date.parse(ack.expiresAt!)).toBeGreaterThan(Date.now() + 500_000);
      await eventually(
        () => Promise.resolve(Date.now() > Date.parse(expiresAt) + 1000),
        5000,
        'the old expiry to pass',
      );
      expect(v.socket.connected).toBe(true);
      expect(await v.subscribe({ projectId: 'after-refresh' })).toMatchObject({ ok: true });
    });

    it('closes a socket whose token expires without a refresh', async () => {
      const v = await connect(replicas[0], token({ sub: user(), expiresIn: 1 }));
      expect(await disconnectReason(v)).toBe('io server disconnect');
    });

    it('refuses a token of another user or a bad one, and keeps the session as it was', async () => {
      const sub = user();
      const v = await connect(replicas[1], token({ sub }));
      expect(await v.emit('auth:refresh', { token: token({ sub: 'someone-else' }) })).toMatchObject(
        { ok: false, error: { code: 'UNAUTHORIZED' } },
      );
      expect(await v.emit('auth:refresh', { token: 'not.a.token' })).toMatchObject({
        ok: false,
        error: { code: 'UNAUTHORIZED' },
      });
      expect(await v.emit('auth:refresh', { token: 42 })).toMatchObject({
        ok: false,
        error: { code: 'INVALID_PAYLOAD' },
      });
      expect(await v.subscribe({ projectId: 'still-mine' })).toMatchObject({ ok: true });
    });

    it('drops subscriptions to projects the new token no longer grants', async () => {
      const sub = user();
      const v = await connect(replicas[0], token({ sub, projects: ['keep', 'lose'] }));
      expect(await v.subscribe({ projectId: 'keep' })).toMatchObject({ ok: true });
      expect(await v.subscribe({ projectId: 'lose' })).toMatchObject({ ok: true });
      expect(
        await v.emit('auth:refresh', { token: token({ sub, projects: ['keep'] }) }),
      ).toMatchObject({ ok: true });
      await publish('lose', 'gone');
      await publish('keep', 'marker');
      await v.until((events) => taskIds(events).includes('marker'));
      expect(taskIds(v.events)).toEqual(['marker']);
      expect(await v.subscribe({ projectId: 'lose' })).toMatchObject({
        ok: false,
        error: { code: 'FORBIDDEN' },
      });
    });
  });

  describe('revocation', () => {
    it("revoking a user's access to one project stops that stream on every replica at once, and old tokens stay refused for it", async () => {
      const sub = user();
      const issued = nowSeconds();
      const old = tokenIssuedAt(issued, sub);
      const [a, b] = [await connect(replicas[0], old), await connect(replicas[1], old)];
      for (const v of [a, b]) {
        expect(await v.subscribe({ projectId: 'secret' })).toMatchObject({ ok: true });
        expect(await v.subscribe({ projectId: 'open' })).toMatchObject({ ok: true });
        expect(await v.emit('logs:subscribe', { projectId: 'secret', runId: 'r1' })).toMatchObject({
          ok: true,
        });
      }
      const notices = [a, b].map((v) => serverEvent<{ projectId: string }>(v, 'access:revoked'));
      const res = await revoke({ userId: sub, projectId: 'secret' });
      expect(res.status).toBe(202);
      expect(res.body).toMatchObject({ userId: sub, projectId: 'secret' });
      expect(await Promise.all(notices)).toEqual([
        { projectId: 'secret' },
        { projectId: 'secret' },
      ]);

      await publish('secret', 'hidden');
      await publish('open', 'marker');
      for (const v of [a, b]) {
        await v.until((events) => taskIds(events).includes('marker'));
        expect(taskIds(v.events)).toEqual(['marker']);
        expect(await v.subscribe({ projectId: 'secret' })).toMatchObject({
          ok: false,
          error: { code: 'FORBIDDEN' },
        });
        expect(v.socket.connected).toBe(true);
      }
      // A new connection with the old token: in, but not to that project.
      const late = await connect(replicas[2], old);
      expect(await late.subscribe({ projectId: 'secret' })).toMatchObject({
        ok: false,
        error: { code: 'FORBIDDEN' },
      });
      expect(
        (await http('GET', `${replicas[0].url}/api/projects/secret/snapshot`, { token: old }))
          .status,
      ).toBe(403);
      // A token issued after the revocation works again.
      await nextSecondAfter(Math.floor(Date.parse(res.body.revokedAt as string) / 1000));
      const fresh = await connect(replicas[1], token({ sub }));
      expect(await fresh.subscribe({ projectId: 'secret' })).toMatchObject({ ok: true });
    });

    it('revoking a whole user closes their sockets on every replica and refuses tokens issued before', async () => {
      const sub = user();
      const old = token({ sub });
      const [a, b, c] = await Promise.all(replicas.map((r) => connect(r, old)));
      const bystander = await connect(replicas[0], token({ sub: user() }));
      const reasons = [a, b, c].map(disconnectReason);
      const res = await revoke({ userId: sub }, admin, replicas[1]);
      expect(res.status).toBe(202);
      // Server-side disconnects: the client must not reconnect with this token.
      expect(await Promise.all(reasons)).toEqual([
        'io server disconnect',
        'io server disconnect',
        'io server disconnect',
      ]);
      expect(bystander.socket.connected).toBe(true);

      const err = await connectRefused(replicas[2].url, old);
      expect(err.data).toEqual({ code: 'UNAUTHORIZED', message: 'token revoked' });
      const api = await http('GET', `${replicas[0].url}/api/projects/p/snapshot`, { token: old });
      expect(api.status).toBe(401);

      await nextSecondAfter(Math.floor(Date.parse(res.body.revokedAt as string) / 1000));
      await connect(replicas[2], token({ sub }));
    });

    it('the admin endpoint needs the admin scope and a valid body', async () => {
      expect((await revoke({ userId: 'x' }, token({ scope: 'events:publish' }))).status).toBe(403);
      expect((await revoke({ userId: 'x' }, '')).status).toBe(401);
      const cases: unknown[] = [
        {},
        { userId: '' },
        { userId: 'x', projectId: 'bad id' },
        { userId: 'x', extra: true },
        { userId: 'a\u0000b' },
        { userId: 'x'.repeat(300) },
        [],
        'x',
      ];
      for (const body of cases) {
        const res = await revoke(body);
        expect([JSON.stringify(body), res.status, res.body.error?.code]).toEqual([
          JSON.stringify(body),
          400,
          'INVALID_PAYLOAD',
        ]);
      }
    });
  });

  describe('revocations whose announcement was missed', () => {
    it('close SSE streams and sockets alike once the subscriber is back and the store is re-checked', async () => {
      const sub = user();
      const p = `p-${sub}`;
      const t = token({ sub });
      const stream = await SseReader.open(`${replicas[0].url}/api/projects/${p}/events`, {
        authorization: `Bearer ${t}`,
      });
      expect(stream.status).toBe(200);
      await stream.until((r) => r.named('ready').length === 1);
      const socket = await connect(replicas[0], t);
      expect(await socket.subscribe({ projectId: p })).toMatchObject({ ok: true });
      const closed = disconnectReason(socket);

      // Recorded while nobody heard it: as if the announcement was lost in an outage.
      const client = redis.client();
      try {
        await client.hset(`ss${process.pid}:revoked:{${sub}}`, '*', String(Date.now()));
        // Every replica's subscriber drops and reconnects: announcements may have been missed.
        expect(await client.client('KILL', 'TYPE', 'pubsub')).toBeGreaterThanOrEqual(3);
      } finally {
        client.disconnect();
      }
      await stream.until((r) => r.isEnded, 10_000);
      expect(stream.named('revoked')).toEqual([{ projectId: p }]);
      expect(await closed).toBe('io server disconnect');
    });
  });
});
