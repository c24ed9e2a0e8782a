import { randomBytes } from 'node:crypto';
import { reportFigures } from '../support/figures.js';
import { GatewayProcess } from '../support/gateway-process.js';
import { http } from '../support/http.js';
import { eventually, metric } from '../support/metrics.js';
import { TestStack } from '../support/stack.js';
import { ResumingViewer, strictlyIncreasingIds } from '../support/resuming-viewer.js';
import { serviceToken, token } from '../support/tokens.js';
import { Viewer, tcpSocketOf } from '../support/viewer.js';

const SOFT = 64 * 1024;
const HARD = 1024 * 1024;

/**
 * Viewers whose connections back up: a client that stops reading its socket
 * entirely, and one that is only slow for a while. The server's memory for
 * them stays bounded, other viewers are unaffected, and nobody loses an event
 * without being told.
 */
describe('slow viewers', () => {
  let stack: TestStack;
  let replica: GatewayProcess;
  const svc = serviceToken();
  const closers: (() => void)[] = [];
  /** ~4 KB that deflate cannot shrink: live batches are compressed on the wire. */
  const big = () => randomBytes(3000).toString('base64');

  const publish = (projectId: string, events: unknown[]) =>
    http('POST', `${replica.url}/api/projects/${projectId}/events`, { token: svc, body: events });
  /** `n` failed-run events of ~4 KB each: nothing to merge, so a stalled queue only grows. */
  const heavy = (n: number, from: number) =>
    Array.from({ length: n }, (_, i) => ({
      type: 'agent.run.failed',
      data: { runId: `r${from + i}`, agentId: 'a1', error: big(), willRetry: false },
    }));
  const streamIds = (projectId: string) => stack.streamIds(projectId);

  beforeAll(async () => {
    stack = await TestStack.start({
      replicas: 1,
      prefix: `sv${process.pid}`,
      env: {
        HISTORY_MAX_EVENTS: '20000',
        // Publishes as fast as it can to back a viewer up; the publish limit is tested in limits.
        RATE_LIMIT_PUBLISH_PER_SECOND: '100000',
        VIEWER_SOFT_LIMIT_BYTES: String(SOFT),
        VIEWER_HARD_LIMIT_BYTES: String(HARD),
      },
    });
    [replica] = stack.replicas;
  }, 30_000);

  afterEach(() => closers.splice(0).forEach((close) => close()));

  afterAll(async () => {
    await stack?.stop();
  });

  it('a viewer that stops reading is sent subscription:lagged and disconnected at the hard limit; others get everything; it resumes with since', async () => {
    const p = 'stalled';
    const healthy = await Viewer.connect(replica.url, token());
    closers.push(() => healthy.close());
    expect(await healthy.subscribe({ projectId: p })).toMatchObject({ ok: true });
    const stalled = await ResumingViewer.start({
      nextUrl: () => replica.url,
      token: token(),
      projectId: p,
    });
    closers.push(() => stalled.stop());
    const stalledId = stalled.socketIo!.id!;
    const tcp = tcpSocketOf(stalled.socketIo!);
    tcp.pause();
    const rssBefore = await metric(replica.url, 'gateway_process_resident_memory_bytes');

    // Keep publishing until the server gives up on the stalled viewer.
    let published = 0;
    while ((await metric(replica.url, 'gateway_lagged_disconnects_total')) === 0) {
      expect((await publish(p, heavy(50, published))).status).toBe(202);
      published += 50;
      if (published > 20_000) throw new Error('the stalled viewer was never dropped');
    }
    const rssAtDrop = await metric(replica.url, 'gateway_process_resident_memory_bytes');
    await eventually(async () => (await metric(replica.url, 'gateway_connected_sockets')) === 1);
    // More events after the drop still reach the healthy viewer.
    expect((await publish(p, heavy(10, published))).status).toBe(202);
    published += 10;

    await healthy.untilCount(published, 30_000);
    expect(healthy.socket.connected).toBe(true);
    const ids = await streamIds(p);
    expect(strictlyIncreasingIds(healthy.events)).toEqual(ids);

    // The stalled client reads again: it sees its connection closed, reconnects and resumes.
    tcp.resume();
    await stalled.until(() => stalled.resubscribedAt.length >= 2, 20_000, 'a resubscribe');
    await stalled.until(() => stalled.lastId === ids.at(-1), 20_000, 'the last event');
    expect(strictlyIncreasingIds(stalled.events)).toEqual(ids);
    expect(stalled.failedResumes).toEqual([]);

    expect(await metric(replica.url, 'gateway_slow_viewer_dropped_events_total')).toBeGreaterThan(
      0,
    );
    const warnings = replica.logs.filter(
      (l) => l.includes('slow viewer: queueing') && l.includes(stalledId),
    );
    expect(warnings).toHaveLength(1);
    expect(
      replica.logs.filter((l) => l.includes('past the hard limit') && l.includes(stalledId)),
    ).toHaveLength(1);
    reportFigures('stalled-viewer', {
      softLimitBytes: SOFT,
      hardLimitBytes: HARD,
      publishedBeforeDrop: published - 10,
      publishedMiB: +((published * 4150) / 2 ** 20).toFixed(1),
      rssBeforeMiB: +(rssBefore / 2 ** 20).toFixed(1),
      rssAtDropMiB: +(rssAtDrop / 2 ** 20).toFixed(1),
    });
  }, 90_000);

  it('a viewer that falls behind for a while gets coalescable events merged (latest per host and task), in order, and rejoins', async () => {
    const p = 'behind';
    const viewer = await Viewer.connect(replica.url, token());
    closers.push(() => viewer.close());
    expect(await viewer.subscribe({ projectId: p })).toMatchObject({ ok: true });
    const tcp = tcpSocketOf(viewer.socket);
    tcp.pause();
    const slowBefore = await metric(replica.url, 'gateway_slow_viewers');
    const mergedBefore = await metric(replica.url, 'gateway_slow_viewer_merged_events_total');

    // Fill its connection (small steps, far below the hard limit) until it counts as slow.
    let filler = 0;
    while ((await metric(replica.url, 'gateway_slow_viewers')) === slowBefore) {
      expect((await publish(p, heavy(5, filler))).status).toBe(202);
      filler += 5;
      if (filler > 10_000) throw new Error('the viewer never became slow');
    }
    // Now many updates of few entities: they merge instead of piling up.
    const latest = new Map<string, number>();
    for (let batch = 0; batch < 20; batch++) {
      const events = Array.from({ length: 50 }, (_, i) => {
        const host = `h${i % 3}`;
        const cpuPercent = (batch * 50 + i) % 100;
        latest.set(host, cpuPercent);
        return { type: 'system.resource.sampled', data: { host, cpuPercent, memoryPercent: 1 } };
      });
      expect((await publish(p, events)).status).toBe(202);
    }
    const merged =
      (await metric(replica.url, 'gateway_slow_viewer_merged_events_total')) - mergedBefore;
    // Samples of the same host were merged in the queue rather than queued. How
    // many depends on how long the connection stayed backed up (the kernel's
    // buffers decide that), so the count is not pinned; that some were is.
    expect(merged).toBeGreaterThan(0);

    tcp.resume();
    const ids = await streamIds(p);
    await viewer.until((events) => events.at(-1)?.id === ids.at(-1), 30_000);
    expect(viewer.socket.connected).toBe(true);
    // In order, no duplicates; every heavy event kept; samples merged to the latest per host.
    strictlyIncreasingIds(viewer.events);
    expect(viewer.events.filter((e) => e.type === 'agent.run.failed')).toHaveLength(filler);
    const samples = viewer.events.filter((e) => e.type === 'system.resource.sampled');
    // Every merged sample was dropped, never sent: fewer than were published arrived.
    expect(samples.length).toBeLessThanOrEqual(1000 - merged);
    const seen = new Map<string, number>();
    for (const e of samples) {
      const data = e.data as { host: string; cpuPercent: number };
      seen.set(data.host, data.cpuPercent);
    }
    expect(seen).toEqual(latest);
    await eventually(async () => (await metric(replica.url, 'gateway_slow_viewers')) === 0);
    expect(replica.logs.some((l) => l.includes('slow viewer caught up'))).toBe(true);
    reportFigures('slow-viewer-merged', {
      published: filler + 1000,
      samplesPublished: 1000,
      samplesDelivered: samples.length,
      merged,
    });
  }, 90_000);
});
