import { request, type IncomingHttpHeaders } from 'node:http';
import { deflateSync, gzipSync } from 'node:zlib';
import { GatewayProcess } from '../support/gateway-process.js';
import { http } from '../support/http.js';
import { RedisServer } from '../support/redis-server.js';
import { serviceToken, token } from '../support/tokens.js';
import { connectRefused, Viewer } from '../support/viewer.js';

/** Every refusal is coded, changes nothing, and leaves the connection and replica usable. */
describe('auth, validation and API errors (one replica on Redis)', () => {
  let redis: RedisServer;
  let gw: GatewayProcess;
  const viewers: Viewer[] = [];
  const connect = async (t = token()) => {
    const v = await Viewer.connect(gw.url, t);
    viewers.push(v);
    return v;
  };

  beforeAll(async () => {
    redis = await RedisServer.start();
    gw = await GatewayProcess.start({
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: `err${process.pid}`,
      CORS_ORIGINS: 'http://allowed.test',
      LOG_LEVEL: 'debug',
    });
  }, 60_000);
  afterEach(() => viewers.splice(0).forEach((v) => v.close()));
  afterAll(async () => {
    await gw?.kill();
    await redis?.stop();
  });

  describe('handshake', () => {
    it.each([
      ['no token', undefined],
      ['a malformed token', 'not-a-jwt'],
      ['an expired token', token({ expiresIn: -60 })],
      ['a wrong audience', token({ audience: 'someone-else' })],
      ['a wrong issuer', token({ issuer: 'https://evil.test' })],
      ['a wrong secret', token({ secret: 'x'.repeat(40) })],
    ])('refuses %s with UNAUTHORIZED', async (_what, t) => {
      const err = await connectRefused(gw.url, t);
      expect(err.message).toBe('UNAUTHORIZED');
      expect(err.data).toMatchObject({ code: 'UNAUTHORIZED', message: expect.any(String) });
    });

    it('refuses a token without exp', async () => {
      const jwt = await import('jsonwebtoken');
      const { TEST_SECRET, TEST_AUDIENCE, TEST_ISSUER } = await import('../support/tokens.js');
      const noExp = jwt.sign({ sub: 'u', projects: ['*'] }, TEST_SECRET, {
        audience: TEST_AUDIENCE,
        issuer: TEST_ISSUER,
      });
      const err = await connectRefused(gw.url, noExp);
      expect(err.data).toMatchObject({ code: 'UNAUTHORIZED', message: 'token has no exp' });
    });

    it('refuses a browser Origin not in CORS_ORIGINS before the upgrade, and accepts an allowed one', async () => {
      const err = await connectRefused(gw.url, token(), { origin: 'http://evil.test' });
      expect(err.message).toMatch(/websocket error|xhr poll error|Unexpected server response: 403/);
      const res = await fetch(`${gw.url}/socket.io/?EIO=4&transport=polling`, {
        headers: { Origin: 'http://evil.test' },
      });
      expect(res.status).toBe(403);
      const ok = await Viewer.connect(gw.url, token(), { origin: 'http://allowed.test' });
      ok.close();
    });
  });

  describe('subscribe', () => {
    it('answers FORBIDDEN for a project outside the token', async () => {
      const v = await connect(token({ projects: ['mine'] }));
      expect(await v.subscribe({ projectId: 'theirs' })).toEqual({
        ok: false,
        error: { code: 'FORBIDDEN', message: expect.any(String) },
      });
      expect(await v.subscribe({ projectId: 'mine' })).toMatchObject({ ok: true });
    });

    it.each([
      ['no payload', undefined],
      ['a string payload', 'p1'],
      ['an array payload', [{ projectId: 'p1' }]],
      ['a missing projectId', {}],
      ['a numeric projectId', { projectId: 42 }],
      ['a 10 kB projectId', { projectId: 'p'.repeat(10_000) }],
      ['a projectId with a slash', { projectId: 'a/b' }],
      ['an unknown key', { projectId: 'p1', extra: true }],
      ['a __proto__ key', JSON.parse('{"projectId":"p1","__proto__":{"polluted":true}}')],
      ['a constructor key', { projectId: 'p1', constructor: { prototype: {} } }],
      ['a malformed since', { projectId: 'p1', since: 'yesterday' }],
      ['a numeric since', { projectId: 'p1', since: 17 }],
      ['types not an array', { projectId: 'p1', types: 'agent.*' }],
      ['a bad pattern', { projectId: 'p1', types: ['agent..run'] }],
      [
        'too many patterns',
        { projectId: 'p1', types: Array.from({ length: 40 }, (_, i) => `t${i}.*`) },
      ],
    ])('answers INVALID_PAYLOAD for %s, and the socket stays usable', async (_what, payload) => {
      const v = await connect();
      const ack = await v.emit('subscribe', payload);
      expect(ack).toEqual({
        ok: false,
        error: { code: 'INVALID_PAYLOAD', message: expect.any(String) },
      });
      expect(await v.subscribe({ projectId: 'p1' })).toMatchObject({ ok: true });
    });

    it('unsubscribes, validates unsubscribe payloads, and ignores unknown events', async () => {
      const v = await connect();
      await v.subscribe({ projectId: 'u1' });
      expect(await v.emit('unsubscribe', { projectId: 'u1' })).toEqual({ ok: true });
      expect(await v.emit('unsubscribe', { projectId: '' })).toMatchObject({
        ok: false,
        error: { code: 'INVALID_PAYLOAD' },
      });
      v.socket.emit('no-such-event', { x: 1 });
      // Names of Object.prototype members are not routes either; acks would
      // arrive before the next one's (one socket, answered in order).
      const answered: string[] = [];
      for (const name of ['constructor', 'toString', 'hasOwnProperty', '__proto__']) {
        v.socket.emit(name, { projectId: 'u1' }, () => answered.push(name));
      }
      expect(await v.subscribe({ projectId: 'u1' })).toMatchObject({ ok: true });
      expect(answered).toEqual([]);
    });

    it('answers RATE_LIMITED when a socket sends too many messages, without disconnecting it', async () => {
      const v = await connect();
      const acks = await Promise.all(
        Array.from({ length: 80 }, () => v.emit('unsubscribe', { projectId: 'p1' })),
      );
      expect(acks.filter((a) => a.ok).length).toBeGreaterThan(0);
      expect(acks.some((a) => a.error?.code === 'RATE_LIMITED')).toBe(true);
      expect(v.socket.connected).toBe(true);
    });
  });

  describe('publish API', () => {
    const url = () => `${gw.url}/api/projects/api1/events`;
    const good = {
      type: 'task.status.changed',
      data: { taskId: 't1', from: null, to: 'planning' },
    };

    it('accepts one event or an array with 202 and ids', async () => {
      const one = await http('POST', url(), { token: serviceToken(), body: good });
      expect(one).toMatchObject({
        status: 202,
        body: { ids: [expect.stringMatching(/^\d+-\d+$/)] },
      });
      const many = await http('POST', url(), { token: serviceToken(), body: [good, good] });
      expect(many.body.ids).toHaveLength(2);
    });

    it.each([
      ['no token', undefined, good, 401, 'UNAUTHORIZED'],
      ['a viewer token without events:publish', token(), good, 403, 'FORBIDDEN'],
      ['a service token for another project', serviceToken(['other']), good, 403, 'FORBIDDEN'],
      [
        'an unknown type',
        serviceToken(),
        { type: 'task.exploded', data: {} },
        400,
        'INVALID_PAYLOAD',
      ],
      [
        'an unknown top-level key',
        serviceToken(),
        { ...good, projectId: 'api1', extra: 1 },
        400,
        'INVALID_PAYLOAD',
      ],
      [
        'an unknown data field',
        serviceToken(),
        { ...good, data: { ...good.data, x: 1 } },
        400,
        'INVALID_PAYLOAD',
      ],
      ['an empty array', serviceToken(), [], 400, 'INVALID_PAYLOAD'],
      [
        '101 events',
        serviceToken(),
        Array.from({ length: 101 }, () => good),
        413,
        'PAYLOAD_TOO_LARGE',
      ],
    ])('refuses %s', async (_what, t, body, status, code) => {
      const res = await http('POST', url(), { token: t, body });
      expect(res.status).toBe(status);
      expect(res.body).toMatchObject({ error: { code, message: expect.any(String) } });
    });

    it('lists every problem in details and publishes nothing of a bad batch', async () => {
      const p = `batch${Date.now()}`;
      const res = await http('POST', `${gw.url}/api/projects/${p}/events`, {
        token: serviceToken(),
        body: [
          good,
          { type: 'task.status.changed', data: { taskId: 't 2', from: 'x', to: 'done' } },
        ],
      });
      expect(res.status).toBe(400);
      expect(res.body.error.details).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ path: '[1].data.taskId' }),
          expect.objectContaining({ path: '[1].data.from' }),
        ]),
      );
      const history = await http('GET', `${gw.url}/api/projects/${p}/events/history`, {
        token: token(),
      });
      expect(history.body).toEqual({ events: [], position: '0-0', hasMore: false });
    });

    it('answers malformed JSON with 400 and an oversized body with 413', async () => {
      const bad = await http('POST', url(), { token: serviceToken(), rawBody: '{"type":' });
      expect(bad).toMatchObject({ status: 400, body: { error: { code: 'INVALID_PAYLOAD' } } });
      const huge = await http('POST', url(), {
        token: serviceToken(),
        rawBody: JSON.stringify({ x: 'y'.repeat(2_000_000) }),
      });
      expect(huge).toMatchObject({ status: 413, body: { error: { code: 'PAYLOAD_TOO_LARGE' } } });
    });

    /** A POST with the headers and body given as is (chunked when no content-length). */
    const rawPost = (headers: Record<string, string>, body: Buffer | string) =>
      new Promise<{ status: number; body: unknown; headers: IncomingHttpHeaders }>(
        (resolve, reject) => {
          const req = request(url(), {
            method: 'POST',
            headers: { authorization: `Bearer ${serviceToken()}`, ...headers },
          });
          req.on('response', (res) => {
            let text = '';
            res.on('data', (c: Buffer) => (text += c.toString()));
            res.on('end', () =>
              resolve({
                status: res.statusCode ?? 0,
                body: JSON.parse(text) as unknown,
                headers: res.headers,
              }),
            );
          });
          // The server may answer (413) and close before the whole body is sent.
          req.on('error', reject);
          req.end(body);
        },
      );

    it('reads gzip and deflate bodies, and refuses other encodings and non-JSON types', async () => {
      const json = JSON.stringify(good);
      const type = { 'content-type': 'application/json' };
      const gz = await rawPost({ ...type, 'content-encoding': 'gzip' }, gzipSync(json));
      expect(gz).toMatchObject({ status: 202, body: { ids: [expect.any(String)] } });
      const df = await rawPost({ ...type, 'content-encoding': 'deflate' }, deflateSync(json));
      expect(df.status).toBe(202);
      const br = await rawPost({ ...type, 'content-encoding': 'br' }, json);
      expect(br).toMatchObject({ status: 400, body: { error: { code: 'INVALID_PAYLOAD' } } });
      const corrupt = await rawPost({ ...type, 'content-encoding': 'gzip' }, json);
      expect(corrupt).toMatchObject({ status: 400, body: { error: { code: 'INVALID_PAYLOAD' } } });
      const text = await rawPost({ 'content-type': 'text/plain' }, json);
      expect(text).toMatchObject({
        status: 400,
        body: {
          error: { code: 'INVALID_PAYLOAD', message: expect.stringContaining('content-type') },
        },
      });
    });

    it('stops reading a chunked body at 1 MiB (413) and a gzip bomb once inflated', async () => {
      const type = { 'content-type': 'application/json' };
      const big = `{"x":"${'y'.repeat(1_100_000)}"}`;
      const chunked = await rawPost({ ...type, 'transfer-encoding': 'chunked' }, big);
      expect(chunked).toMatchObject({
        status: 413,
        body: { error: { code: 'PAYLOAD_TOO_LARGE' } },
      });
      const bomb = gzipSync(big);
      expect(bomb.length).toBeLessThan(10_000);
      const inflated = await rawPost({ ...type, 'content-encoding': 'gzip' }, bomb);
      expect(inflated).toMatchObject({
        status: 413,
        body: { error: { code: 'PAYLOAD_TOO_LARGE' } },
      });
      expect((await http('POST', url(), { token: serviceToken(), body: good })).status).toBe(202);
    });

    it('answers CORS on the publish itself for an allowed origin only', async () => {
      const json = JSON.stringify(good);
      const type = { 'content-type': 'application/json' };
      const allowed = await rawPost({ ...type, origin: 'http://allowed.test' }, json);
      expect(allowed.status).toBe(202);
      expect(allowed.headers['access-control-allow-origin']).toBe('http://allowed.test');
      // Idle publish connections are kept past common load balancer and pool timeouts.
      expect(allowed.headers['keep-alive']).toBe('timeout=65');
      const evil = await rawPost({ ...type, origin: 'http://evil.test' }, json);
      expect(evil.headers['access-control-allow-origin']).toBeUndefined();
      expect(evil.headers['x-content-type-options']).toBe('nosniff');
    });

    it('pages history with since and limit, and validates them', async () => {
      const p = `hist${Date.now()}`;
      const { body } = await http('POST', `${gw.url}/api/projects/${p}/events`, {
        token: serviceToken(),
        body: Array.from({ length: 5 }, (_, i) => ({
          ...good,
          data: { ...good.data, taskId: `t${i}` },
        })),
      });
      const ids = body.ids as string[];
      const base = `${gw.url}/api/projects/${p}`;
      const page1 = await http('GET', `${base}/events/history?since=0-0&limit=2`, {
        token: token(),
      });
      expect(page1.body).toMatchObject({ position: ids[1], hasMore: true });
      const page2 = await http(
        'GET',
        `${base}/events/history?since=${page1.body.position}&limit=10`,
        { token: token() },
      );
      expect(page2.body.events.map((e: { id: string }) => e.id)).toEqual(ids.slice(2));
      expect(page2.body.hasMore).toBe(false);
      const latest = await http('GET', `${base}/events/history?limit=2`, { token: token() });
      expect(latest.body.events.map((e: { id: string }) => e.id)).toEqual(ids.slice(3));
      for (const q of ['limit=0', 'limit=1001', 'limit=abc', 'since=nope']) {
        const res = await http('GET', `${base}/events/history?${q}`, { token: token() });
        expect(res).toMatchObject({ status: 400, body: { error: { code: 'INVALID_PAYLOAD' } } });
      }
      const snap = await http('GET', `${base}/snapshot`, { token: token() });
      expect(snap.body.position).toBe(ids[4]);
      expect(Object.keys(snap.body.snapshot)).toHaveLength(5);
      const forbidden = await http('GET', `${base}/snapshot`, {
        token: token({ projects: ['other'] }),
      });
      expect(forbidden.status).toBe(403);
    });

    it('serves health, readiness and metrics without a token', async () => {
      expect((await http('GET', `${gw.url}/healthz`)).status).toBe(200);
      expect(await http('GET', `${gw.url}/readyz`)).toMatchObject({
        status: 200,
        body: { redis: 'ready' },
      });
      const metrics = await http('GET', `${gw.url}/metrics`);
      expect(metrics.body).toContain('gateway_connected_sockets');
      expect(metrics.body).toContain('gateway_events_published_total{type="task.status.changed"}');
      expect(metrics.body).toContain('gateway_redis_connected{role="command"} 1');
    });

    it('never writes a token to its logs, accepted or refused', async () => {
      const accepted = serviceToken();
      const refused = token({ audience: 'nope', scope: 'events:publish' });
      await http('POST', url(), { token: accepted, body: good });
      await http('POST', url(), { token: refused, body: good });
      await connectRefused(gw.url, refused);
      (await connect(accepted)).close();
      // Logs are flushed line by line; a final request makes sure the earlier ones are read.
      await http('GET', `${gw.url}/healthz`);
      const logs = gw.logs.join('\n');
      expect(logs.length).toBeGreaterThan(0);
      for (const t of [accepted, refused]) expect(logs).not.toContain(t.split('.')[2]);
    });
  });
});
