import { GatewayProcess } from '../support/gateway-process.js';
import { http } from '../support/http.js';
import { RedisServer } from '../support/redis-server.js';
import { SseReader } from '../support/sse-client.js';
import { serviceToken, token } from '../support/tokens.js';
import { Viewer } from '../support/viewer.js';

/**
 * The runs in progress, an orchestrator's first question: from the store, so
 * every replica answers the same, over HTTP, in the subscribe ack and in the
 * SSE `ready` frame. Two replicas on one private redis-server.
 */
describe('active runs', () => {
  let redis: RedisServer;
  let replicas: GatewayProcess[];
  const viewers: Viewer[] = [];
  const readers: SseReader[] = [];
  const svc = serviceToken();
  let seq = 0;
  const project = () => `ar${Date.now().toString(36)}${++seq}`;

  const publish = async (replica: GatewayProcess, projectId: string, body: unknown) => {
    const res = await http('POST', `${replica.url}/api/projects/${projectId}/events`, {
      token: svc,
      body,
    });
    expect(res.status).toBe(202);
    return (res.body as { ids: string[] }).ids;
  };
  const started = (runId: string, extra: object = {}) => ({
    type: 'agent.run.started',
    data: { runId, agentId: `agent-${runId}`, agentType: 'worker', taskId: 't1', ...extra },
  });
  const activeRuns = (replica: GatewayProcess, projectId: string, t = token()) =>
    http('GET', `${replica.url}/api/projects/${projectId}/active-runs`, { token: t });

  beforeAll(async () => {
    redis = await RedisServer.start();
    const env = { REDIS_URL: redis.url, REDIS_KEY_PREFIX: `ar${process.pid}` };
    replicas = await Promise.all([0, 1].map(() => GatewayProcess.start(env)));
  }, 60_000);

  afterEach(() => {
    viewers.splice(0).forEach((v) => v.close());
    readers.splice(0).forEach((r) => r.close());
  });

  afterAll(async () => {
    await Promise.all((replicas ?? []).map((r) => r.kill()));
    await redis?.stop();
  });

  it('lists the runs in progress on every replica, oldest first, and drops a run once it ends', async () => {
    const p = project();
    const [a, b] = replicas;
    expect((await activeRuns(b, p)).body).toEqual({ runs: [] });
    await publish(a, p, started('r1'));
    await publish(a, p, started('r2', { subtaskId: 's1' }));
    const { status, body } = await activeRuns(b, p);
    expect(status).toBe(200);
    const { runs } = body as { runs: { runId: string; startedAt: string }[] };
    expect(runs).toEqual([
      { runId: 'r1', agentId: 'agent-r1', taskId: 't1', startedAt: expect.any(String) },
      {
        runId: 'r2',
        agentId: 'agent-r2',
        taskId: 't1',
        subtaskId: 's1',
        startedAt: expect.any(String),
      },
    ]);
    expect(Date.parse(runs[0].startedAt)).toBeLessThanOrEqual(Date.parse(runs[1].startedAt));

    await publish(b, p, {
      type: 'agent.run.completed',
      data: { runId: 'r1', agentId: 'agent-r1', durationMs: 5 },
    });
    await publish(b, p, {
      type: 'agent.run.failed',
      data: { runId: 'r2', agentId: 'agent-r2', error: 'boom', willRetry: false },
    });
    expect((await activeRuns(a, p)).body).toEqual({ runs: [] });
  });

  it('gives them in the subscribe ack with the snapshot, not on a resume', async () => {
    const p = project();
    const [a, b] = replicas;
    await publish(a, p, started('r1'));
    const viewer = await Viewer.connect(b.url, token());
    viewers.push(viewer);
    const ack = await viewer.subscribe({ projectId: p });
    expect(ack).toMatchObject({
      ok: true,
      activeRuns: [{ runId: 'r1', agentId: 'agent-r1', taskId: 't1' }],
    });
    const resumed = await viewer.subscribe({ projectId: p, since: ack.position });
    expect(resumed).toMatchObject({ ok: true });
    expect(resumed).not.toHaveProperty('activeRuns');
  });

  it('gives them in the SSE ready frame', async () => {
    const p = project();
    const [a, b] = replicas;
    await publish(a, p, started('r1'));
    const { ticket } = (
      await http('POST', `${b.url}/api/sse-tickets`, { token: token(), body: { projectId: p } })
    ).body as { ticket: string };
    const reader = await SseReader.open(`${b.url}/api/projects/${p}/events?ticket=${ticket}`);
    readers.push(reader);
    await reader.until((r) => r.named('ready').length === 1);
    expect(reader.named('ready')[0]).toMatchObject({
      activeRuns: [{ runId: 'r1', agentId: 'agent-r1', taskId: 't1' }],
    });
  });

  it('answers only a token with access to the project', async () => {
    const p = project();
    expect((await activeRuns(replicas[0], p, token({ projects: ['other'] }))).status).toBe(403);
    expect((await http('GET', `${replicas[0].url}/api/projects/${p}/active-runs`, {})).status).toBe(
      401,
    );
  });
});
