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
