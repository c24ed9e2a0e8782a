import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';

const ROOT = join(__dirname, '..', '..');

/**
 * The client library is a deliverable of its own: what an application gets
 * when it installs this package (`npm pack`, then the tarball installed into
 * an empty project) is an importable, typed `realtime-event-gateway/client`
 * that brings in no server code.
 */
describe('the client library as an installed package', () => {
  let scratch: string;
  let installed: string;

  beforeAll(() => {
    if (!existsSync(join(ROOT, 'dist', 'client', 'index.js'))) {
      throw new Error('dist/client is missing: run `npm run build` first');
    }
    scratch = mkdtempSync(join(tmpdir(), 'client-package-'));
    const [packed] = JSON.parse(
      execFileSync('npm', ['pack', '--json', '--pack-destination', scratch], {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'ignore'],
      }).toString(),
    ) as { filename: string }[];
    writeFileSync(
      join(scratch, 'package.json'),
      JSON.stringify({ name: 'an-app', private: true, type: 'module' }),
    );
    execFileSync(
      'npm',
      [
        'install',
        '--no-audit',
        '--no-fund',
        '--prefer-offline',
        '--omit=dev',
        `./${packed.filename}`,
      ],
      { cwd: scratch, stdio: 'ignore' },
    );
    installed = join(scratch, 'node_modules', 'realtime-event-gateway');
  }, 180_000);

  afterAll(() => {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('imports as realtime-event-gateway/client from an application', () => {
    writeFileSync(
      join(scratch, 'app.mjs'),
      "import { GatewayClient, GatewayClientError } from 'realtime-event-gateway/client';\n" +
        'console.log(typeof GatewayClient, typeof GatewayClientError);\n',
    );
    const out = execFileSync(process.execPath, ['app.mjs'], { cwd: scratch }).toString().trim();
    expect(out).toBe('function function');
  });

  it('is typed: an application type-checks against it', () => {
    writeFileSync(
      join(scratch, 'app.ts'),
      [
        "import { GatewayClient, type EventEnvelope } from 'realtime-event-gateway/client';",
        "const client = new GatewayClient({ url: 'https://gw.example.com', token: 't' });",
        "client.subscribe('p1', { onEvents: (events: EventEnvelope[]) => events.length });",
        // A wrong option must be a type error, so the check below is not vacuous.
        '// @ts-expect-error: not an option',
        "new GatewayClient({ url: 'https://gw.example.com', token: 't', nope: 1 });",
        '',
      ].join('\n'),
    );
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    execFileSync(
      process.execPath,
      [
        tsc,
        '--noEmit',
        '--strict',
        '--skipLibCheck',
        '--module',
        'nodenext',
        '--moduleResolution',
        'nodenext',
        '--target',
        'es2022',
        'app.ts',
      ],
      { cwd: scratch, stdio: 'pipe' },
    );
  });

  it('brings in no server code: its import graph reaches only socket.io-client', () => {
    const { files, packages } = importGraph(join(installed, 'dist', 'client', 'index.js'));
    expect([...packages].sort()).toEqual(['eventsource-parser', 'socket.io-client']);
    const outside = [...files]
      .map((f) => relative(join(installed, 'dist'), f))
      .filter((f) => !/^(client|protocol|core)\//.test(f));
    expect(outside).toEqual([]);
    // Nothing of the server's wiring or stores: no Nest module, no Redis or memory adapter.
    const server = [...files]
      .map((f) => relative(join(installed, 'dist'), f))
      .filter((f) => /\.module\.js$|\/(redis|memory)\//.test(f));
    expect(server).toEqual([]);
  });
});

/** Files and bare package names reachable by static imports from `entry`. */
function importGraph(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    const source = readFileSync(file, 'utf8');
    // `import type` is erased at build time; what is left in the .js is what loads.
    for (const match of source.matchAll(
      /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/g,
    )) {
      const spec = match[1];
      if (spec.startsWith('.')) visit(resolve(dirname(file), spec));
      else
        packages.add(
          spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0],
        );
    }
  };
  visit(entry);
  return { files, packages };
}
