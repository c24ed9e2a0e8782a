import { GatewayProcess, runGatewayToExit } from '../support/gateway-process.js';
import { http } from '../support/http.js';
import { Viewer } from '../support/viewer.js';

/** The first run: embedded mode (no Redis) with the demo simulator, as `npm start` runs it. */
describe('embedded mode with DEMO=1', () => {
  let gw: GatewayProcess;

  beforeAll(async () => {
    gw = await GatewayProcess.start({ DEMO: '1', JWT_SECRET: '' });
  }, 30_000);
  afterAll(async () => {
    await gw?.kill('SIGTERM');
  });

  it('prints the URL and a development token', () => {
    const out = gw.logs.join('\n');
    expect(out).toContain('"mode":"embedded"');
    expect(out).toMatch(/Live demo dashboard: http:\/\/127\.0\.0\.1:\d+\//);
  });

  it('serves the built dashboard at /, with its bundled script', async () => {
    const page = await http<string>('GET', `${gw.url}/`);
    expect(page.status).toBe(200);
    expect(page.body).toContain('Live dashboard');
    const script = /<script type="module"[^>]* src="([^"]+)"/.exec(page.body)?.[1];
    expect(script).toMatch(/^\/assets\/.+\.js$/);
    const bundle = await http<string>('GET', `${gw.url}${script}`);
    expect(bundle.status).toBe(200);
    expect(bundle.headers.get('content-type')).toContain('javascript');
  });

  it('streams simulated events to a viewer using the demo session token, starting from the snapshot', async () => {
    const session = await http('GET', `${gw.url}/demo/session`);
    expect(session.body.projects).toContain('demo');
    const v = await Viewer.connect(gw.url, session.body.token as string);
    try {
      const ack = await v.subscribe({ projectId: 'demo' });
      expect(ack).toMatchObject({ ok: true, projectId: 'demo' });
      const events = await v.until((e) => new Set(e.map((x) => x.type)).size >= 3, 20_000);
      expect(events.every((e) => e.projectId === 'demo')).toBe(true);
      expect(events.map((e) => e.type)).toEqual(
        expect.arrayContaining(['system.resource.sampled', 'task.status.changed']),
      );
      // The demo token only covers the demo projects.
      expect(await v.subscribe({ projectId: 'private' })).toMatchObject({
        ok: false,
        error: { code: 'FORBIDDEN' },
      });
    } finally {
      v.close();
    }
  });

  it('turns the demo load up and down for a token of the demo projects, and refuses anything else', async () => {
    const { token } = (await http('GET', `${gw.url}/demo/session`)).body as { token: string };
    const put = (body: unknown, bearer: string | null = token) =>
      http('PUT', `${gw.url}/demo/load`, { ...(bearer ? { token: bearer } : {}), body });
    // Bad input changes nothing: out of range, not a number, no token.
    for (const body of [
      { eventsPerSecond: 1001 },
      { eventsPerSecond: -1 },
      { eventsPerSecond: 'lots' },
      {},
    ]) {
      const res = await put(body);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('INVALID_PAYLOAD');
    }
    expect((await put({ eventsPerSecond: 10 }, null)).status).toBe(401);
    expect((await http('GET', `${gw.url}/demo/session`)).body.load).toBe(0);

    const v = await Viewer.connect(gw.url, token);
    try {
      expect(await v.subscribe({ projectId: 'demo' })).toMatchObject({ ok: true });
      expect(await put({ eventsPerSecond: 500 })).toMatchObject({
        status: 200,
        body: { eventsPerSecond: 500 },
      });
      expect((await http('GET', `${gw.url}/demo/session`)).body.load).toBe(500);
      // The demo alone samples 3 hosts a second: 1,000 samples in 20 s are the load's.
      await v.until(
        (e) => e.filter((x) => x.type === 'system.resource.sampled').length >= 1000,
        20_000,
      );
      expect((await put({ eventsPerSecond: 0 })).status).toBe(200);
    } finally {
      v.close();
    }
  }, 40_000);

  it('exits on SIGTERM', async () => {
    const other = await GatewayProcess.start({ DEMO: '1', JWT_SECRET: '' });
    expect(await other.kill('SIGTERM')).toBe(0);
  });
});

describe('boot configuration', () => {
  it('refuses to start with one message listing every bad variable', async () => {
    const { code, output } = await runGatewayToExit({
      PORT: 'x',
      HISTORY_MAX_EVENTS: '0',
      REDIS_URL: 'nope',
    });
    expect(code).toBe(78);
    for (const name of ['PORT', 'HISTORY_MAX_EVENTS', 'REDIS_URL', 'JWT_JWKS_URL: one is required'])
      expect(output).toContain(name);
  });

  it('serves no demo session without DEMO=1', async () => {
    const gw = await GatewayProcess.start({});
    try {
      expect((await http('GET', `${gw.url}/demo/session`)).status).toBe(404);
    } finally {
      await gw.kill();
    }
  });
});
