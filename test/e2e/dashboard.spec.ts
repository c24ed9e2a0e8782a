import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, SCREENSHOTS } from '../support/browser.js';
import { freePort } from '../support/free-port.js';
import { GatewayProcess } from '../support/gateway-process.js';
import { http } from '../support/http.js';
import { serviceToken, token } from '../support/tokens.js';

/**
 * The dashboard as something a person keeps open all day (Debian's
 * Chromium, headless): it recovers by itself, stays bounded, opens a log in
 * one click, fits a phone, says what is wrong in words, and switches
 * projects cleanly.
 */
describe('the dashboard, kept open all day', () => {
  let browser: Browser;
  let gw: GatewayProcess;
  const svc = serviceToken();
  let seq = 0;
  const project = () => `db${Date.now().toString(36)}${++seq}`;

  const publish = async (projectId: string, events: unknown[]) => {
    for (let i = 0; i < events.length; i += 100) {
      const res = await http('POST', `${gw.url}/api/projects/${projectId}/events`, {
        token: svc,
        body: events.slice(i, i + 100),
      });
      expect(res.status).toBe(202);
    }
  };
  const open = async (
    url: string,
    viewport = { width: 1400, height: 900 },
    live = true,
  ): Promise<Page> => {
    const page = await browser.newPage({ viewport });
    page.on('pageerror', (e) => {
      throw e;
    });
    await page.goto(url);
    if (live) await page.waitForSelector('[data-testid=connection].live');
    return page;
  };
  const viewerUrl = (projects: string[], sub = 'viewer-db') =>
    `${gw.url}/#token=${token({ sub, projects })}&projects=${projects.join(',')}&project=${projects[0]}`;
  const nodes = (page: Page) => page.evaluate(() => document.getElementsByTagName('*').length);

  /** A busy project's day: tasks through to done with subtasks and runs, many agents, samples. */
  const busyDay = (tasks: number, agents: number) => {
    const events: unknown[] = [];
    for (let n = 0; n < tasks; n++) {
      const taskId = `t${n}`;
      events.push(
        { type: 'task.status.changed', data: { taskId, from: null, to: 'planning' } },
        { type: 'task.status.changed', data: { taskId, from: 'planning', to: 'active' } },
        {
          type: 'subtask.status.changed',
          data: { subtaskId: `${taskId}-a`, taskId, from: null, to: 'in_progress' },
        },
        {
          type: 'agent.run.started',
          data: {
            runId: `r${n}`,
            agentId: `a${n % agents}`,
            agentType: 'worker',
            taskId,
            subtaskId: `${taskId}-a`,
          },
        },
        {
          type: 'agent.run.completed',
          data: { runId: `r${n}`, agentId: `a${n % agents}`, durationMs: 5 },
        },
        {
          type: 'subtask.status.changed',
          data: { subtaskId: `${taskId}-a`, taskId, from: 'in_progress', to: 'completed' },
        },
        { type: 'task.status.changed', data: { taskId, from: 'active', to: 'done' } },
      );
    }
    for (let n = 0; n < agents; n++)
      events.push({ type: 'agent.status.changed', data: { agentId: `a${n}`, status: 'idle' } });
    for (let n = 0; n < 60; n++)
      events.push({
        type: 'system.resource.sampled',
        data: { host: `h${n % 3}`, cpuPercent: n, memoryPercent: 50 },
      });
    return events;
  };

  beforeAll(async () => {
    browser = await launchChromium();
    // The page is served by the gateway itself: its origin may open the WebSocket.
    const port = await freePort();
    gw = await GatewayProcess.start({
      PORT: String(port),
      PUBLIC_ORIGIN: `http://127.0.0.1:${port}`,
      RATE_LIMIT_PUBLISH_PER_SECOND: '100000',
    });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await gw?.kill();
  });

  it('comes back by itself after the demo restarts with a new secret, with a fresh token and fresh data', async () => {
    const demo = await GatewayProcess.start({ DEMO: '1', JWT_SECRET: '' });
    const page = await open(`${demo.url}/`);
    let restarted: GatewayProcess | null = null;
    try {
      const oldToken = await page.evaluate(async () => {
        const res = await fetch('/demo/session');
        return ((await res.json()) as { token: string }).token;
      });
      await demo.kill('SIGKILL');
      await page.waitForSelector('[data-testid=connection].reconnecting');
      restarted = await GatewayProcess.start({
        DEMO: '1',
        JWT_SECRET: '',
        PORT: String(demo.port),
      });
      // The old token is refused by the new process: the page had to fetch a new one.
      const refused = await http('GET', `${restarted.url}/api/projects/demo/snapshot`, {
        token: oldToken,
      });
      expect(refused.status).toBe(401);
      await page.waitForSelector('[data-testid=connection].live', { timeout: 30_000 });
      expect(await page.isHidden('[data-testid=notice]')).toBe(true);
      // New data flows: the new process's first task shows up.
      await page.waitForSelector('[data-testid=board] [data-task="task-1"]', { timeout: 20_000 });
    } finally {
      await page.close();
      await restarted?.kill();
    }
  }, 90_000);

  it('stays bounded after a long busy day: recent cards per column with counts, agents capped', async () => {
    const p = project();
    await publish(p, busyDay(1500, 500));
    const page = await open(viewerUrl([p]));
    await page.waitForSelector('[data-testid=column-done] .count:text("1500")', {
      timeout: 20_000,
    });
    const before = await nodes(page);
    expect(before).toBeLessThan(1500);
    expect(await page.$$('[data-testid=column-done] [data-task]')).toHaveLength(20);
    expect(await page.$$('[data-testid=agents] li[data-agent]')).toHaveLength(40);
    expect(await page.textContent('[data-testid=agents]')).toContain('and 460 more');
    // "show more" adds a page; the DOM grows by that page, not by the day.
    await page.click('[data-testid=column-done] button.more');
    await page.waitForFunction(
      () => document.querySelectorAll('[data-testid=column-done] [data-task]').length === 40,
    );
    // Another busy hour on the live page: the page stays the same size.
    await publish(
      p,
      busyDay(1500, 500).map((e) => renumber(e)),
    );
    await page.waitForSelector('[data-testid=column-done] .count:text("3000")', {
      timeout: 30_000,
    });
    expect(await nodes(page)).toBeLessThan(before + 200);
    const heightPx = await page.evaluate(() => document.documentElement.scrollHeight);
    expect(heightPx).toBeLessThan(2500);
    await page.screenshot({ path: join(SCREENSHOTS, 'bounded.png') });
    await page.close();
  }, 120_000);

  it('opens a run’s log in one click on its task card, its subtask, or its agent', async () => {
    const p = project();
    await publish(p, [
      { type: 'task.status.changed', data: { taskId: 'build', from: null, to: 'active' } },
      {
        type: 'subtask.status.changed',
        data: { subtaskId: 'build-a', taskId: 'build', from: null, to: 'in_progress' },
      },
      {
        type: 'agent.run.started',
        data: {
          runId: 'run-one',
          agentId: 'ada',
          agentType: 'worker',
          taskId: 'build',
          subtaskId: 'build-a',
        },
      },
      ...[1, 2, 3].map((lineNumber) => ({
        type: 'agent.run.log',
        data: { runId: 'run-one', line: `step ${lineNumber}`, lineNumber },
      })),
    ]);
    const page = await open(viewerUrl([p]));
    expect(await page.isHidden('[data-testid=log-panel]')).toBe(true);
    await page.click('[data-task="build"] b');
    await page.waitForSelector('[data-testid=log-panel]:not([hidden]) [data-testid=log] li');
    expect(await page.$$eval('[data-testid=log] li', (l) => l.map((x) => x.textContent))).toEqual(
      expect.arrayContaining([
        expect.stringContaining('step 1'),
        expect.stringContaining('step 3'),
      ]),
    );
    expect(await page.textContent('[data-testid=log-state]')).toBe('running · ada');
    expect(await page.textContent('[data-testid=connection]')).toBe('Live · websocket');
    // The run ends while the log is open: its state follows.
    await publish(p, [
      {
        type: 'agent.run.failed',
        data: { runId: 'run-one', agentId: 'ada', error: 'disk full', willRetry: false },
      },
    ]);
    await page.waitForSelector('[data-testid=log-state]:text("failed: disk full")');
    await page.screenshot({ path: join(SCREENSHOTS, 'log-panel.png') });
    await page.click('[data-testid=log-close]');
    expect(await page.isHidden('[data-testid=log-panel]')).toBe(true);
    await page.click('[data-task="build"] [data-subtask="build-a"]');
    await page.waitForSelector('[data-testid=log-panel]:not([hidden]) [data-testid=log] li');
    await page.close();
  }, 60_000);

  it('fits a 390 px phone: no sideways scrolling, names not broken mid-word', async () => {
    const p = project();
    await publish(p, [
      ...busyDay(30, 8),
      {
        type: 'task.status.changed',
        data: { taskId: 'a-rather-long-task-name-that-needs-room', from: null, to: 'planning' },
      },
      // A busy agent: its row says what it runs, a long line on a phone.
      {
        type: 'agent.run.started',
        data: {
          runId: 'run-with-a-long-identifier-0123456789',
          agentId: 'agent-with-a-long-name',
          agentType: 'worker',
          taskId: 'a-rather-long-task-name-that-needs-room',
        },
      },
    ]);
    const page = await open(viewerUrl([p]), { width: 390, height: 844 });
    await page.waitForSelector('[data-task="a-rather-long-task-name-that-needs-room"]');
    await page.waitForSelector('[data-testid=chart] canvas');
    const widths = await page.evaluate(() => [
      document.documentElement.scrollWidth,
      window.innerWidth,
    ]);
    expect(widths[0]).toBe(widths[1]);
    // A name is one line (cut with an ellipsis if it must be), never wrapped mid-word.
    const nameLines = await page.$eval(
      '[data-task="a-rather-long-task-name-that-needs-room"] b',
      (b) =>
        Math.round(b.getBoundingClientRect().height / parseFloat(getComputedStyle(b).lineHeight)),
    );
    expect(nameLines).toBe(1);
    await page.screenshot({ path: join(SCREENSHOTS, 'phone.png'), fullPage: true });
    await page.close();
  }, 60_000);

  it('says in words why it is offline when its token is refused', async () => {
    const page = await open(`${gw.url}/#token=not-a-jwt&project=p1`, undefined, false);
    const notice = await page.waitForSelector('[data-testid=notice]:not([hidden])', {
      timeout: 20_000,
    });
    expect(await notice.textContent()).toMatch(
      /^The gateway refused this page's token \(.+\)\. Open the page again with a fresh token/,
    );
    expect(await page.textContent('[data-testid=connection]')).toBe('Offline');
    await page.close();
  }, 30_000);

  it('switches project cleanly: the other project’s log closes, the rate counts live events only, the chart keeps its past', async () => {
    const [p1, p2] = [project(), project()];
    await publish(p1, [
      ...busyDay(200, 20),
      { type: 'task.status.changed', data: { taskId: 'now', from: null, to: 'active' } },
      {
        type: 'agent.run.started',
        data: { runId: 'run-now', agentId: 'a1', agentType: 'worker', taskId: 'now' },
      },
      { type: 'agent.run.log', data: { runId: 'run-now', line: 'in p1', lineNumber: 1 } },
    ]);
    await publish(p2, busyDay(300, 30));
    const page = await open(viewerUrl([p1, p2]));
    await page.click('[data-task="now"] b');
    await page.waitForSelector('[data-testid=log] li:text("in p1")');
    // A finished task whose runs ended before the page opened: the panel says so.
    await page.click('[data-task="t199"] b');
    await page.waitForSelector('[data-testid=log] li.note:text("No run of t199 is known")');
    await page.click('[data-task="now"] b');
    await page.waitForSelector('[data-testid=log] li:text("in p1")');

    await page.selectOption('[data-testid=project-picker]', p2);
    await page.waitForSelector('[data-task="t299"]');
    expect(await page.isHidden('[data-testid=log-panel]')).toBe(true);
    expect(await page.$$('[data-testid=log] li')).toHaveLength(0);
    // Nothing is being published: the next tick of the rate says 0, not the snapshot's size.
    await page.waitForSelector('[data-testid=rate]:text("events/s")');
    expect(await page.textContent('[data-testid=rate]')).toBe('0 events/s');
    // The chart starts from history, not from the one sample per host in the snapshot.
    await page.waitForSelector('[data-testid=chart] canvas');
    expect(await page.isHidden('[data-testid=chart] .empty')).toBe(true);
    const samples = await page.evaluate(
      () =>
        (
          window as unknown as { dashboard: { state: { samples: Map<string, { t: number[] }> } } }
        ).dashboard.state.samples.get('h0')!.t.length,
    );
    expect(samples).toBe(20);
    await page.close();
  }, 60_000);
});

/** The same day again under new ids (`t1500`... instead of `t0`...). */
function renumber(event: unknown): unknown {
  return JSON.parse(
    JSON.stringify(event).replace(/"(t|r)(\d+)(-a)?"/g, (_m, p: string, n: string, s = '') => {
      return `"${p}${Number(n) + 1500}${s}"`;
    }),
  );
}
