/* global window, document, requestAnimationFrame, innerWidth -- page functions run in Chromium */
// The dashboard under load, in Debian's Chromium (headless, playwright-core):
// the demo (embedded, DEMO=1) with its load control, the page on the `demo`
// project. `npm run build` first.
//
//   node bench/dashboard-ui.mjs [--seconds 20] [--rate 1000] [--minutes 10]
//
// 1. `--seconds` at the demo's own rate, then the same at `--rate` extra
//    events/s: long tasks (main thread busy > 50 ms, PerformanceObserver),
//    frames painted per second, events the page applied per second, side by
//    side. There is no baseline page to hold it against: the demo's own rate
//    is the reference.
// 2. `--minutes` more at `--rate`: the page's JS heap after a forced garbage
//    collection (CDP HeapProfiler.collectGarbage, Runtime.getHeapUsage) and
//    its DOM node count, each minute. Flat is the goal.
// Screenshots (desktop, 390 px) land in artifacts/screenshots/ui-*.png.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { freePort, parseArgs, root, startProcess } from './lib.mjs';

/** A plain table: a title, column headings (after a first, unnamed column), rows. */
function printTable(title, headings, rows) {
  const all = [['', ...headings], ...rows.map((r) => r.map(String))];
  const widths = all[0].map((_, i) => Math.max(...all.map((r) => r[i].length)));
  console.log(`\n${title}`);
  for (const row of all) console.log(row.map((c, i) => c.padStart(widths[i])).join('  '));
}

const args = parseArgs();
const seconds = Number(args.seconds ?? 20);
const rate = Number(args.rate ?? 1000);
const minutes = Number(args.minutes ?? 10);
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
if (!existsSync(chromiumPath)) {
  console.error(`chromium not found at ${chromiumPath}: apt-get install -y chromium`);
  process.exit(1);
}
const shots = join(root, 'artifacts', 'screenshots');
mkdirSync(shots, { recursive: true });

const port = await freePort();
const url = `http://127.0.0.1:${port}`;
const server = await startProcess(
  'node',
  ['dist/main.js'],
  { DEMO: '1', PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn' },
  'Live demo dashboard',
);
const browser = await chromium.launch({
  executablePath: chromiumPath,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run'],
});

async function setLoad(eventsPerSecond) {
  const { token } = await (await fetch(`${url}/demo/session`)).json();
  const res = await fetch(`${url}/demo/load`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ eventsPerSecond }),
  });
  if (!res.ok) throw new Error(`PUT /demo/load: HTTP ${res.status}`);
}

try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  await page.addInitScript(() => {
    const w = window;
    w.longTasks = [];
    w.frames = 0;
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) w.longTasks.push(entry.duration);
    }).observe({ type: 'longtask', buffered: true });
    const tick = () => {
      w.frames++;
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
  await page.goto(`${url}/`);
  await page.waitForSelector('[data-testid=connection].live');
  const cdp = await page.context().newCDPSession(page);

  const window_ = async (label, extra) => {
    await setLoad(extra);
    await page.waitForTimeout(2000); // settle into the new rate
    const before = await page.evaluate(() => ({
      longTasks: window.longTasks.length,
      frames: window.frames,
      events: window.dashboard.state.eventsApplied,
    }));
    await page.waitForTimeout(seconds * 1000);
    const after = await page.evaluate(
      (skip) => ({
        longTasks: window.longTasks.slice(skip),
        frames: window.frames,
        events: window.dashboard.state.eventsApplied,
      }),
      before.longTasks,
    );
    return {
      label,
      eventsPerSecond: Math.round((after.events - before.events) / seconds),
      framesPerSecond: Math.round((after.frames - before.frames) / seconds),
      longTasks: after.longTasks.length,
      longTaskTotalMs: Math.round(after.longTasks.reduce((a, b) => a + b, 0)),
      longTaskMaxMs: Math.round(Math.max(0, ...after.longTasks)),
    };
  };
  const normal = await window_('demo rate', 0);
  const loaded = await window_(`+${rate} events/s`, rate);
  printTable(
    `dashboard: ${seconds} s windows, Chromium headless, 1400x900`,
    ['events/s applied', 'frames/s', 'long tasks', 'long task total ms', 'longest ms'],
    [normal, loaded].map((r) => [
      r.label,
      r.eventsPerSecond,
      r.framesPerSecond,
      r.longTasks,
      r.longTaskTotalMs,
      r.longTaskMaxMs,
    ]),
  );
  await page.screenshot({ path: join(shots, 'ui-desktop.png') });

  const heap = [];
  const sample = async (minute) => {
    await cdp.send('HeapProfiler.collectGarbage');
    const { usedSize } = await cdp.send('Runtime.getHeapUsage');
    const nodes = await page.evaluate(() => document.getElementsByTagName('*').length);
    const activity = await page.evaluate(() => window.dashboard.state.activity.length);
    heap.push([`${minute} min`, (usedSize / 1048576).toFixed(1), nodes, activity]);
    console.log(`  ${minute} min: heap ${(usedSize / 1048576).toFixed(1)} MB, ${nodes} DOM nodes`);
  };
  await sample(0);
  for (let m = 1; m <= minutes; m++) {
    await page.waitForTimeout(60_000);
    await sample(m);
  }
  printTable(
    `dashboard heap after a full GC, at +${rate} events/s for ${minutes} min`,
    ['JS heap MB', 'DOM nodes', 'activity entries held'],
    heap,
  );

  const phone = await browser.newPage({ viewport: { width: 390, height: 844 } });
  await phone.goto(`${url}/`);
  await phone.waitForSelector('[data-testid=connection].live');
  await phone.waitForTimeout(3000);
  const widths = await phone.evaluate(() => [document.documentElement.scrollWidth, innerWidth]);
  console.log(`390 px: scrollWidth ${widths[0]} for a viewport of ${widths[1]}`);
  await phone.screenshot({ path: join(shots, 'ui-phone.png'), fullPage: true });
} finally {
  await browser.close();
  server.kill();
}
