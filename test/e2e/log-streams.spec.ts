import type { Redis } from 'ioredis';
import type { EventEnvelope } from '../../src/core/envelope.js';
import { GatewayProcess } from '../support/gateway-process.js';
import { http } from '../support/http.js';
import { TestStack } from '../support/stack.js';
import { serviceToken, token } from '../support/tokens.js';
import { Viewer } from '../support/viewer.js';
import { SseReader } from '../support/sse-client.js';

/**
 * `logs:subscribe` / `logs:unsubscribe`: one run's log lines, to the viewers
 * of that run only, with their own capped, expiring history and resume.
 */
describe('log streams', () => {
  let stack: TestStack;
  let client: Redis;
  let replicas: GatewayProcess[];
  const prefix = `ls${process.pid}`;
  const svc = serviceToken();
  const viewers: Viewer[] = [];
  let seq = 0;
  const project = () => `ls${Date.now().toString(36)}${++seq}`;
  const lineNumbers = new Map<string, number>();

  const connect = async (replica: GatewayProcess, t = token()) => {
    const v = await Viewer.connect(replica.url, t);
    viewers.push(v);
    return v;
  };
  /** Publishes `lines` for `runId` (through replica 0) and returns their ids. */
  const log = async (projectId: string, runId: string, lines: string[]) => {
    const events = lines.map((line) => {
      const lineNumber = (lineNumbers.get(runId) ?? 0) + 1;
      lineNumbers.set(runId, lineNumber);
      return { type: 'agent.run.log', data: { runId, line, lineNumber, level: 'info' } };
    });
    const res = await http('POST', `${replicas[0].url}/api/projects/${projectId}/events`, {
      token: svc,
      body: events,
    });
    expect(res.status).toBe(202);
    return res.body.ids as string[];
  };
  const linesIn = (events: EventEnvelope[]) =>
    events.filter((e) => e.type === 'agent.run.log').map((e) => (e.data as { line: string }).line);
  const linesOf = (v: Viewer) => linesIn(v.events);

  beforeAll(async () => {
    stack = await TestStack.start({
      replicas: 2,
      prefix,
      env: { LOG_HISTORY_MAX_LINES: '20', LOG_HISTORY_TTL_SECONDS: '600' },
    });
    ({ client, replicas } = stack);
  }, 60_000);

  afterEach(() => viewers.splice(0).forEach((v) => v.close()));

  afterAll(async () => {
    await stack?.stop();
  });

  it('log lines reach only the viewers of that run, on every replica, and never a project subscription', async () => {
    const p = project();
    const [a, b, c] = await Promise.all([
      connect(replicas[1]),
      connect(replicas[1]),
      connect(replicas[0]),
    ]);
    expect(await a.emit('logs:subscribe', { projectId: p, runId: 'r1' })).toMatchObject({
      ok: true,
      position: '0-0',
      replayed: 0,
    });
    expect(await b.emit('logs:subscribe', { projectId: p, runId: 'r2' })).toMatchObject({
      ok: true,
    });
    expect(await c.subscribe({ projectId: p })).toMatchObject({ ok: true });

    await log(p, 'r1', ['one-1']);
    await log(p, 'r2', ['two-1']);
    await log(p, 'r1', ['one-2', 'one-3']);
    const marker = await http('POST', `${replicas[0].url}/api/projects/${p}/events`, {
      token: svc,
      body: { type: 'agent.run.completed', data: { runId: 'r1', agentId: 'a', durationMs: 5 } },
    });
    expect(marker.status).toBe(202);

    await a.untilCount(3);
    await b.untilCount(1);
    await c.untilCount(1);
    expect(linesOf(a)).toEqual(['one-1', 'one-2', 'one-3']);
    expect(a.events.every((e) => e.type === 'agent.run.log')).toBe(true);
    expect(linesOf(b)).toEqual(['two-1']);
    expect(c.events.map((e) => e.type)).toEqual(['agent.run.completed']);
    expect(a.events).toHaveLength(3);
    expect(b.events).toHaveLength(1);
  });

  it('replays the run so far without since, resumes after since, and stops at logs:unsubscribe', async () => {
    const p = project();
    const ids = await log(p, 'r1', ['l1', 'l2', 'l3', 'l4', 'l5']);

    const fresh = await connect(replicas[1]);
    expect(await fresh.emit('logs:subscribe', { projectId: p, runId: 'r1' })).toMatchObject({
      ok: true,
      position: '0-0',
      replayed: 5,
    });
    await fresh.untilCount(5);
    expect(linesOf(fresh)).toEqual(['l1', 'l2', 'l3', 'l4', 'l5']);

    const resumed = await connect(replicas[0]);
    expect(
      await resumed.emit('logs:subscribe', { projectId: p, runId: 'r1', since: ids[2] }),
    ).toMatchObject({ ok: true, position: ids[2], replayed: 2 });
    await log(p, 'r1', ['l6']);
    await resumed.untilCount(3);
    await fresh.untilCount(6);
    expect(linesOf(resumed)).toEqual(['l4', 'l5', 'l6']);

    expect(await fresh.emit('logs:unsubscribe', { projectId: p, runId: 'r1' })).toEqual({
      ok: true,
    });
    await log(p, 'r1', ['l7']);
    await resumed.untilCount(4);
    expect(linesOf(fresh)).toEqual(['l1', 'l2', 'l3', 'l4', 'l5', 'l6']);
  });

  it("keeps each run's own capped, expiring history: a since that was trimmed gets resync: true and the retained lines", async () => {
    const p = project();
    const lines = Array.from({ length: 30 }, (_, i) => `line-${i + 1}`);
    const ids = await log(p, 'r9', lines);
    const key = `${prefix}:{${p}}:logs:r9`;
    expect(await client.xlen(key)).toBe(20);
    const ttl = await client.ttl(key);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(600);
    // Log lines never enter the project's own stream.
    expect(await client.xlen(`${prefix}:{${p}}:events`)).toBe(0);

    const v = await connect(replicas[1]);
    expect(
      await v.emit('logs:subscribe', { projectId: p, runId: 'r9', since: ids[0] }),
    ).toMatchObject({
      ok: true,
      resync: true,
      position: '0-0',
      replayed: 20,
    });
    await v.untilCount(20);
    expect(linesOf(v)).toEqual(lines.slice(10));
  });

  it('refuses malformed and forbidden log subscriptions with coded acks', async () => {
    const v = await connect(replicas[0], token({ projects: ['mine'] }));
    const cases: [unknown, string][] = [
      [{ projectId: 'mine' }, 'INVALID_PAYLOAD'],
      [{ projectId: 'mine', runId: 'bad run' }, 'INVALID_PAYLOAD'],
      [{ projectId: 'mine', runId: 'r1', since: 'yesterday' }, 'INVALID_PAYLOAD'],
      [{ projectId: 'mine', runId: 'r1', extra: 1 }, 'INVALID_PAYLOAD'],
      [{ projectId: 'theirs', runId: 'r1' }, 'FORBIDDEN'],
    ];
    for (const [payload, code] of cases) {
      const ack = await v.emit('logs:subscribe', payload);
      expect(ack).toMatchObject({ ok: false, error: { code } });
    }
    expect(await v.emit('logs:unsubscribe', { projectId: 'mine' })).toMatchObject({
      ok: false,
      error: { code: 'INVALID_PAYLOAD' },
    });
    expect(await v.emit('logs:subscribe', { projectId: 'mine', runId: 'r1' })).toMatchObject({
      ok: true,
    });
  });

  describe('following every run (runId "*", SSE runs=all)', () => {
    const started = (runId: string) => ({
      type: 'agent.run.started',
      data: { runId, agentId: `agent-${runId}`, agentType: 'worker', taskId: 't1' },
    });
    const ended = (runId: string) => ({
      type: 'agent.run.completed',
      data: { runId, agentId: `agent-${runId}`, durationMs: 1 },
    });
    const publish = async (projectId: string, body: unknown) => {
      const res = await http('POST', `${replicas[0].url}/api/projects/${projectId}/events`, {
        token: svc,
        body,
      });
      expect(res.status).toBe(202);
    };
    const count = (lines: string[], line: string) => lines.filter((l) => l === line).length;

    it('follows the runs in progress (with their lines so far) and every run started later, each line once', async () => {
      const p = project();
      await publish(p, started('r1'));
      await log(p, 'r1', ['r1-a']);
      const follower = await connect(replicas[1]);
      expect(await follower.emit('logs:subscribe', { projectId: p, runId: '*' })).toEqual({
        ok: true,
        position: '0-0',
        replayed: 0,
        runs: ['r1'],
      });
      await follower.until((events) => linesIn(events).includes('r1-a'));

      await publish(p, started('r2'));
      await log(p, 'r2', ['r2-a']);
      await log(p, 'r1', ['r1-b']);
      await follower.until(
        (events) => linesIn(events).includes('r2-a') && linesIn(events).includes('r1-b'),
      );
      const lines = linesOf(follower);
      for (const line of ['r1-a', 'r1-b', 'r2-a'])
        expect([line, count(lines, line)]).toEqual([line, 1]);

      // Unfollowing drops every run following took; a direct viewer of r1 marks the moment.
      const sentinel = await connect(replicas[1]);
      await sentinel.emit('logs:subscribe', { projectId: p, runId: 'r1' });
      expect(await follower.emit('logs:unsubscribe', { projectId: p, runId: '*' })).toEqual({
        ok: true,
      });
      await log(p, 'r1', ['r1-c']);
      await sentinel.until((events) => linesIn(events).includes('r1-c'));
      expect(linesOf(follower)).not.toContain('r1-c');
    });

    it('stays within the per-connection subscription limit: an ended run makes room, runs all in progress do not', async () => {
      const limited = await GatewayProcess.start(stack.env({ MAX_SUBSCRIPTIONS_PER_SOCKET: '2' }));
      try {
        const p = project();
        const follower = await connect(limited);
        const sentinel = await connect(replicas[1]);
        expect(await follower.emit('logs:subscribe', { projectId: p, runId: '*' })).toMatchObject({
          ok: true,
          runs: [],
        });
        await publish(p, [started('r1'), started('r2')]);
        await log(p, 'r1', ['r1-a']);
        await log(p, 'r2', ['r2-a']);
        await follower.until(
          (events) => linesIn(events).includes('r1-a') && linesIn(events).includes('r2-a'),
        );
        // At the limit with both in progress: r3 is not followed.
        await publish(p, started('r3'));
        await sentinel.emit('logs:subscribe', { projectId: p, runId: 'r3' });
        await log(p, 'r3', ['r3-a']);
        await sentinel.until((events) => linesIn(events).includes('r3-a'));
        // r1 ends: the next run takes its place.
        await publish(p, ended('r1'));
        await publish(p, started('r4'));
        await log(p, 'r4', ['r4-a']);
        await follower.until((events) => linesIn(events).includes('r4-a'));
        await log(p, 'r2', ['r2-b']);
        await follower.until((events) => linesIn(events).includes('r2-b'));
        expect(linesOf(follower)).not.toContain('r3-a');
      } finally {
        await limited.kill();
      }
    }, 30_000);

    it('over SSE: runs=all streams every run’s lines, new runs included, as unnamed frames without ids', async () => {
      const p = project();
      await publish(p, started('r1'));
      await log(p, 'r1', ['r1-a']);
      const reader = await SseReader.open(`${replicas[1].url}/api/projects/${p}/events?runs=all`, {
        authorization: `Bearer ${token()}`,
      });
      try {
        await reader.until((r) => r.named('ready').length === 1);
        const lineFrames = () =>
          reader.messages
            .filter((m) => m.event === 'message' && m.data.includes('agent.run.log'))
            .map((m) => ({
              id: m.id,
              line: (JSON.parse(m.data) as { data: { line: string } }).data.line,
            }));
        await reader.until(() => lineFrames().some((f) => f.line === 'r1-a'));
        await publish(p, started('r2'));
        await log(p, 'r2', ['r2-a']);
        await reader.until(() => lineFrames().some((f) => f.line === 'r2-a'));
        expect(lineFrames()).toEqual([
          { id: undefined, line: 'r1-a' },
          { id: undefined, line: 'r2-a' },
        ]);
      } finally {
        reader.close();
      }
    });

    it('refuses a bad runId with a coded error', async () => {
      const v = await connect(replicas[0]);
      for (const runId of ['**', 'a*', '']) {
        expect(await v.emit('logs:subscribe', { projectId: project(), runId })).toMatchObject({
          ok: false,
          error: { code: 'INVALID_PAYLOAD' },
        });
      }
    });
  });
});
