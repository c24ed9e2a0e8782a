import { percentile, reportFigures } from '../support/figures.js';
import { GatewayProcess } from '../support/gateway-process.js';
import { http } from '../support/http.js';
import { ReplicaPool } from '../support/pool.js';
import { Publisher } from '../support/publisher.js';
import { ResumingViewer, strictlyIncreasingIds } from '../support/resuming-viewer.js';
import { TestStack } from '../support/stack.js';
import { serviceToken, token } from '../support/tokens.js';

const DRAIN_WINDOW_MS = 3000;

/**
 * Replicas die (kill -9) and are redeployed (SIGTERM, one after another)
 * while events are published: viewers move to the other replicas, resume with
 * `since`, and end with every event exactly once, in order.
 */
describe('replica death and rolling restarts', () => {
  let stack: TestStack;
  let replicas: GatewayProcess[];
  const viewers: ResumingViewer[] = [];
  let seq = 0;
  const project = () => `rf${Date.now().toString(36)}${++seq}`;

  const startViewers = async (pool: ReplicaPool, projectId: string, count: number) => {
    const started = await Promise.all(
      Array.from({ length: count }, (_, i) =>
        ResumingViewer.start({ nextUrl: pool.picker(i), token: token(), projectId }),
      ),
    );
    viewers.push(...started);
    return started;
  };

  /** Waits until each viewer has the whole stream, then checks exactly-once and order. */
  const expectEveryEventExactlyOnce = async (group: ResumingViewer[], projectId: string) => {
    const ids = await stack.streamIds(projectId);
    for (const viewer of group) {
      await viewer.until(() => viewer.lastId === ids.at(-1), 20_000, 'the last event');
      expect(strictlyIncreasingIds(viewer.events)).toEqual(ids);
      expect(viewer.failedResumes).toEqual([]);
    }
    return ids;
  };

  beforeAll(async () => {
    stack = await TestStack.start({
      replicas: 3,
      prefix: `rf${process.pid}`,
      env: { DRAIN_WINDOW_MS: String(DRAIN_WINDOW_MS) },
    });
    replicas = stack.replicas;
  }, 60_000);

  afterEach(() => {
    viewers.splice(0).forEach((v) => v.stop());
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('kill -9 of one of three replicas: its viewers resume on the others with no gap and no duplicate', async () => {
    const p = project();
    const pool = new ReplicaPool(replicas.map((r) => r.url));
    const group = await startViewers(pool, p, 12);
    const victim = replicas[0];
    // Viewers i % 3 === 0 started on the victim.
    const moved = group.filter((_, i) => i % 3 === 0);
    const publisher = new Publisher(() => replicas[2].url, p, serviceToken(), 5);
    await Promise.all(group.map((v) => v.until(() => v.events.length >= 20)));

    pool.remove(victim.url);
    const killedAt = Date.now();
    await victim.kill('SIGKILL');
    await Promise.all(moved.map((v) => v.until(() => v.resubscribedAt.length >= 2)));
    const recovery = moved.map((v) => v.resubscribedAt[1] - killedAt);
    const atKill = Math.max(...group.map((v) => v.events.length));
    await Promise.all(group.map((v) => v.until(() => v.events.length >= atKill + 50)));
    await publisher.stop();

    const ids = await expectEveryEventExactlyOnce(group, p);
    expect(publisher.failures).toBe(0);
    expect(ids).toEqual(expect.arrayContaining(publisher.accepted));
    reportFigures('replica-kill', {
      viewersMoved: moved.length,
      events: ids.length,
      killToLastResubscribedMs: Math.max(...recovery),
      killToResubscribedMedianMs: percentile(recovery, 50),
    });

    replicas[0] = await GatewayProcess.start(stack.env());
  }, 60_000);

  it('SIGTERM drains: readiness false and new connections refused at once, viewers told when they will be closed, closed over the window, exit within it', async () => {
    const replica = await GatewayProcess.start(stack.env());
    const p = project();
    const pool = new ReplicaPool([replica.url, replicas[1].url]);
    // All start on `replica`, then move to replicas[1].
    const group = await Promise.all(
      Array.from({ length: 10 }, () =>
        ResumingViewer.start({ nextUrl: pool.picker(0), token: token(), projectId: p }),
      ),
    );
    viewers.push(...group);
    expect((await http('GET', `${replica.url}/readyz`)).status).toBe(200);

    const termAt = Date.now();
    const exited = replica.kill('SIGTERM');
    await Promise.all(group.map((v) => v.until(() => v.drainingNotices.length === 1)));
    const readyz = await http('GET', `${replica.url}/readyz`);
    expect(readyz.status).toBe(503);
    expect(readyz.body).toMatchObject({ status: 'unready', draining: true });
    const polling = await http('GET', `${replica.url}/socket.io/?EIO=4&transport=polling`);
    expect(polling.status).toBe(503);
    expect(polling.body).toMatchObject({ error: { code: 'UNAVAILABLE' } });
    expect((await http('GET', `${replica.url}/healthz`)).status).toBe(200);

    expect(await exited).toBe(0);
    const exitMs = Date.now() - termAt;
    expect(exitMs).toBeLessThan(DRAIN_WINDOW_MS + 2000);
    const delays = group.map((v) => v.drainingNotices[0].reconnectInMs);
    for (const delay of delays) {
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThan(DRAIN_WINDOW_MS);
    }
    // Spread: not everyone in one batch.
    expect(new Set(delays).size).toBeGreaterThan(5);
    const closedAfter = group.map((v) => v.disconnectedAt[0] - termAt);
    // Each was closed when it was told, not all at once.
    delays.forEach((delay, i) => expect(closedAfter[i]).toBeGreaterThanOrEqual(delay - 50));
    reportFigures('drain-single', {
      viewers: group.length,
      windowMs: DRAIN_WINDOW_MS,
      exitMs,
      reconnectInMs: [...delays].sort((a, b) => a - b),
      closedAfterMs: [...closedAfter].sort((a, b) => a - b),
    });
    await Promise.all(group.map((v) => v.until(() => v.resubscribedAt.length >= 2)));
    expect(group.every((v) => v.failedResumes.length === 0)).toBe(true);
  }, 30_000);

  it('a rolling restart of all three replicas under load loses nothing, fails no resume, and spreads reconnections', async () => {
    const p = project();
    const pool = new ReplicaPool(replicas.map((r) => r.url));
    const group = await startViewers(pool, p, 30);
    const publisher = new Publisher(pool.picker(0), p, serviceToken(), 5);
    await Promise.all(group.map((v) => v.until(() => v.events.length >= 10)));

    const startedAt = Date.now();
    for (let i = 0; i < replicas.length; i++) {
      const old = replicas[i];
      pool.remove(old.url);
      expect(await old.kill('SIGTERM')).toBe(0);
      replicas[i] = await GatewayProcess.start(stack.env());
      pool.add(replicas[i].url);
    }
    const restartMs = Date.now() - startedAt;
    const atEnd = Math.max(...group.map((v) => v.events.length));
    await Promise.all(group.map((v) => v.until(() => v.events.length >= atEnd + 20)));
    await publisher.stop();

    const ids = await expectEveryEventExactlyOnce(group, p);
    expect(ids).toEqual(expect.arrayContaining(publisher.accepted));

    // Reconnections per second over the restart: peak against average.
    const reconnects = group.flatMap((v) => v.resubscribedAt.slice(1));
    expect(reconnects.length).toBeGreaterThanOrEqual(group.length);
    const perSecond = new Map<number, number>();
    for (const at of reconnects) {
      const second = Math.floor((at - startedAt) / 1000);
      perSecond.set(second, (perSecond.get(second) ?? 0) + 1);
    }
    const seconds = Math.ceil(restartMs / 1000);
    reportFigures('rolling-restart', {
      viewers: group.length,
      events: ids.length,
      lostEvents: 0,
      failedResumes: group.reduce((n, v) => n + v.failedResumes.length, 0),
      publishFailures: publisher.failures,
      restartMs,
      reconnections: reconnects.length,
      reconnectionsPeakPerSecond: Math.max(...perSecond.values()),
      reconnectionsAveragePerSecond: +(reconnects.length / seconds).toFixed(2),
    });
  }, 90_000);
});
