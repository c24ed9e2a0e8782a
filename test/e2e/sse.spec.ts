import { SseParser } from '../../src/client/sse-parser.js';
import { GatewayProcess } from '../support/gateway-process.js';
import { http } from '../support/http.js';
import { metric } from '../support/metrics.js';
import { RedisServer } from '../support/redis-server.js';
import { SseReader } from '../support/sse-client.js';
import { serviceToken, token } from '../support/tokens.js';

describe('SSE parser', () => {
  it('parses fields across chunk boundaries and line ends, skipping comments', () => {
    const parser = new SseParser();
    const out = [
      ...parser.push('retry: 1000\r\n\r\n: ping\n\nevent: ready\nda'),
      ...parser.push('ta: {"a":1}\n\nid: 5-0\ndata: x\r'),
      ...parser.push('\ndata: y\n\n'),
    ];
    expect(parser.retryMs).toBe(1000);
    expect(out).toEqual([
      { event: 'ready', data: '{"a":1}' },
      { event: 'message', data: 'x\ny', id: '5-0' },
    ]);
  });
});

/**
 * Server-Sent Events on two replicas: the same stream as sockets, resumed with
 * Last-Event-ID, filtered, with run logs, tickets for EventSource, and the
 * same limits and revocation.
 */
describe('Server-Sent Events', () => {
  let redis: RedisServer;
  let replicas: GatewayProcess[];
  const readers: SseReader[] = [];
  const svc = serviceToken();
  let seq = 0;
  const project = () => `sse${Date.now().toString(36)}${++seq}`;

  const open = async (url: string, headers: Record<string, string> = {}) => {
    const reader = await SseReader.open(url, headers);
    readers.push(reader);
    return reader;
  };
  const streamUrl = (replica: GatewayProcess, projectId: string, query = '') =>
    `${replica.url}/api/projects/${projectId}/events${query}`;
  const bearer = (t = token()) => ({ authorization: `Bearer ${t}` });
  const publish = async (projectId: string, events: unknown[]) => {
    const res = await http('POST', `${replicas[0].url}/api/projects/${projectId}/events`, {
      token: svc,
      body: events,
    });
    expect(res.status).toBe(202);
    return res.body.ids as string[];
  };
  const task = (taskId: string) => ({
    type: 'task.status.changed',
    data: { taskId, from: null, to: 'active' },
  });
  const ticketFor = async (projectId: string, t = token()) =>
    (
      await http('POST', `${replicas[1].url}/api/sse-tickets`, {
        token: t,
        body: { projectId },
      })
    ).body as { ticket: string; expiresAt: string };

  beforeAll(async () => {
    redis = await RedisServer.start();
    const env = {
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: `se${process.pid}`,
      SSE_HEARTBEAT_MS: '300',
    };
    replicas = await Promise.all([0, 1].map(() => GatewayProcess.start(env)));
  }, 60_000);

  afterEach(() => readers.splice(0).forEach((r) => r.close()));

  afterAll(async () => {
    await Promise.all((replicas ?? []).map((r) => r.kill()));
    await redis?.stop();
  });

  it('starts with ready and the snapshot, then streams events with ids, log lines without, and heartbeats', async () => {
    const p = project();
    await publish(p, [task('before')]);
    const reader = await open(streamUrl(replicas[1], p, '?runs=r1'), bearer());
    expect(reader.status).toBe(200);
    await reader.until((r) => r.named('ready').length === 1);
    const [ready] = reader.named('ready') as { position: string; snapshot: object }[];
    expect(Object.keys(ready.snapshot)).toEqual(['task:before']);

    const ids = await publish(p, [
      task('live'),
      { type: 'agent.run.log', data: { runId: 'r1', line: 'hello', lineNumber: 1 } },
      { type: 'agent.run.log', data: { runId: 'r2', line: 'not mine', lineNumber: 1 } },
    ]);
    await reader.until((r) => r.events.length === 2);
    // Project events and log lines are separate streams: each in order, not ordered between them.
    const frames = reader.messages.filter((m) => m.event === 'message');
    const taskFrame = frames.find((m) => m.data.includes('task.status.changed'))!;
    const logFrame = frames.find((m) => m.data.includes('agent.run.log'))!;
    expect(taskFrame.id).toBe(ids[0]);
    expect(logFrame.id).toBeUndefined();
    expect(JSON.parse(logFrame.data)).toMatchObject({ data: { runId: 'r1', line: 'hello' } });
    // Heartbeat comments keep coming (the parser drops them; the raw stream shows them).
    const raw = await fetch(streamUrl(replicas[0], p), { headers: bearer() });
    const chunks: string[] = [];
    const decoder = new TextDecoder();
    const body = raw.body!.getReader();
    while (!chunks.join('').includes(': ping')) {
      const { value } = await body.read();
      chunks.push(decoder.decode(value));
    }
    await body.cancel();
    expect(chunks.join('')).toContain(': ping');
  });

  it('resumes after Last-Event-ID with exactly the missed events, and says resync when it is no longer held', async () => {
    const p = project();
    const ids = await publish(p, [task('a'), task('b'), task('c')]);
    const reader = await open(streamUrl(replicas[0], p), { ...bearer(), 'Last-Event-ID': ids[0] });
    await reader.until((r) => r.events.length === 2);
    expect(reader.named('ready')).toEqual([{ position: ids[0] }]);
    expect(reader.events.map((e) => e.id)).toEqual(ids.slice(1));

    const lost = await open(streamUrl(replicas[1], p), { ...bearer(), 'Last-Event-ID': '1-0' });
    await lost.until((r) => r.named('ready').length === 1);
    expect(lost.named('ready')[0]).toMatchObject({ resync: true, position: ids[2] });
  });

  it('filters by types', async () => {
    const p = project();
    const reader = await open(streamUrl(replicas[0], p, '?types=agent.*'), bearer());
    await reader.until((r) => r.named('ready').length === 1);
    await publish(p, [
      task('skip'),
      { type: 'agent.status.changed', data: { agentId: 'a1', status: 'busy' } },
    ]);
    await reader.until((r) => r.events.length === 1);
    expect(reader.events[0].type).toBe('agent.status.changed');
  });

  it('takes a single-use ticket bound to user and project instead of a header; a reused or foreign ticket gets 401', async () => {
    const p = project();
    const { ticket, expiresAt } = await ticketFor(p);
    expect(Date.parse(expiresAt) - Date.now()).toBeLessThanOrEqual(30_000);
    const reader = await open(streamUrl(replicas[0], p, `?ticket=${ticket}`));
    expect(reader.status).toBe(200);
    await reader.until((r) => r.named('ready').length === 1);

    const again = await open(streamUrl(replicas[1], p, `?ticket=${ticket}`));
    expect(again.status).toBe(401);
    expect(JSON.parse(again.errorBody)).toMatchObject({ error: { code: 'UNAUTHORIZED' } });

    const other = await ticketFor(p);
    const elsewhere = await open(streamUrl(replicas[0], project(), `?ticket=${other.ticket}`));
    expect(elsewhere.status).toBe(401);

    const forbidden = await http('POST', `${replicas[0].url}/api/sse-tickets`, {
      token: token({ projects: ['mine'] }),
      body: { projectId: 'theirs' },
    });
    expect(forbidden.status).toBe(403);
  });

  it('refuses missing, bad and foreign credentials, and malformed requests, with coded errors', async () => {
    const p = project();
    const cases: [string, Record<string, string>, number, string][] = [
      ['', {}, 401, 'UNAUTHORIZED'],
      ['', { authorization: 'Bearer nope' }, 401, 'UNAUTHORIZED'],
      ['', bearer(token({ projects: ['other'] })), 403, 'FORBIDDEN'],
      // A made-up ticket is refused like a spent one (docs/protocol.md).
      ['?ticket=short', {}, 401, 'UNAUTHORIZED'],
      ['?types=a..b', bearer(), 400, 'INVALID_PAYLOAD'],
      ['?runs=bad%20run', bearer(), 400, 'INVALID_PAYLOAD'],
      ['?nope=1', bearer(), 400, 'INVALID_PAYLOAD'],
      ['', { ...bearer(), 'Last-Event-ID': 'yesterday' }, 400, 'INVALID_PAYLOAD'],
    ];
    for (const [query, headers, status, code] of cases) {
      const reader = await open(streamUrl(replicas[0], p, query), headers);
      expect([query, reader.status, JSON.parse(reader.errorBody).error.code]).toEqual([
        query,
        status,
        code,
      ]);
    }
  });

  it('counts SSE streams in the per-user connection cap', async () => {
    const capped = await GatewayProcess.start({
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: `se${process.pid}`,
      MAX_CONNECTIONS_PER_USER: '2',
    });
    try {
      const t = token({ sub: 'sse-capped' });
      const p = project();
      for (let i = 0; i < 2; i++) {
        const r = await open(streamUrl(capped, p), bearer(t));
        await r.until((x) => x.named('ready').length === 1);
      }
      const third = await open(streamUrl(capped, p), bearer(t));
      expect(third.status).toBe(429);
      expect(JSON.parse(third.errorBody)).toMatchObject({
        error: { code: 'TOO_MANY_CONNECTIONS' },
      });
    } finally {
      await capped.kill();
    }
  });

  it('ends streams on revocation, on every replica', async () => {
    const sub = `sse-rev-${seq++}`;
    const p = project();
    const readersOf = await Promise.all(
      replicas.map((r) => open(streamUrl(r, p), bearer(token({ sub })))),
    );
    await Promise.all(readersOf.map((r) => r.until((x) => x.named('ready').length === 1)));
    const res = await http('POST', `${replicas[0].url}/api/admin/revocations`, {
      token: token({ sub: 'ops', scope: 'admin' }),
      body: { userId: sub, projectId: p },
    });
    expect(res.status).toBe(202);
    for (const r of readersOf) {
      await r.until((x) => x.isEnded);
      expect(r.named('revoked')).toEqual([{ projectId: p }]);
    }
  });

  it("ends a stream at its token's exp, saying so", async () => {
    const brief = token({ sub: `sse-exp-${seq++}`, expiresIn: 2 });
    const { exp } = JSON.parse(Buffer.from(brief.split('.')[1], 'base64url').toString()) as {
      exp: number;
    };
    const reader = await open(streamUrl(replicas[0], project()), bearer(brief));
    await reader.until((x) => x.named('ready').length === 1);
    await reader.until((x) => x.isEnded, 5000);
    expect(reader.named('expired')).toEqual([{ expiresAt: new Date(exp * 1000).toISOString() }]);
  });

  it('is drained on SIGTERM like sockets: told when, then ended', async () => {
    const doomed = await GatewayProcess.start({
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: `se${process.pid}`,
      DRAIN_WINDOW_MS: '1000',
    });
    const reader = await open(streamUrl(doomed, project()), bearer());
    await reader.until((r) => r.named('ready').length === 1);
    expect(await metric(doomed.url, 'gateway_sse_streams')).toBe(1);
    const exited = doomed.kill('SIGTERM');
    await reader.until((r) => r.isEnded);
    expect(reader.named('draining')).toHaveLength(1);
    expect(await exited).toBe(0);
  });
});
