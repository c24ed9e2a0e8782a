import { spawn, type ChildProcess, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import { TEST_AUDIENCE, TEST_ISSUER, TEST_SECRET } from './tokens.js';

const ROOT = join(__dirname, '..', '..');
const MAIN = join(ROOT, 'dist', 'main.js');

/**
 * One gateway replica as a real process (`node dist/main.js`), on a free port.
 * Tests may kill it; its log lines are kept for assertions and failures.
 */
export class GatewayProcess {
  readonly logs: string[] = [];
  private exited: Promise<number | null>;

  private constructor(
    readonly port: number,
    readonly child: ChildProcess,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  static async start(
    env: Record<string, string> = {},
    nodeArgs: string[] = [],
  ): Promise<GatewayProcess> {
    if (!existsSync(MAIN)) throw new Error('dist/main.js is missing: run `npm run build` first');
    // A fixed PORT brings a replica back at the same address (a restarted pod behind its service).
    const port = env.PORT ? Number(env.PORT) : await freePort();
    const child = spawnMain(
      {
        HOST: '127.0.0.1',
        JWT_SECRET: TEST_SECRET,
        JWT_AUDIENCE: TEST_AUDIENCE,
        JWT_ISSUER: TEST_ISSUER,
        LOG_LEVEL: 'info',
        // Test viewers share a few subjects and one address: the abuse limits
        // are lifted here and set by the tests that exercise them.
        MAX_CONNECTIONS_PER_USER: '10000',
        RATE_LIMIT_HANDSHAKES_PER_MINUTE: '1000000',
        ...env,
        PORT: String(port),
      },
      nodeArgs,
    );
    const gateway = new GatewayProcess(port, child);
    await gateway.waitUntilListening();
    return gateway;
  }

  private waitUntilListening(): Promise<void> {
    return new Promise((resolve, reject) => {
      let buffered = '';
      const onData = (chunk: Buffer) => {
        buffered += chunk.toString();
        let nl: number;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          this.logs.push(line);
          if (line.includes('"msg":"listening"')) resolve();
        }
      };
      this.child.stdout!.on('data', onData);
      this.child.stderr!.on('data', (chunk: Buffer) => this.logs.push(chunk.toString()));
      void this.exited.then((code) =>
        reject(new Error(`gateway exited with ${code} before listening:\n${this.logs.join('\n')}`)),
      );
    });
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }
}

/** Runs the built gateway with `env` and resolves with its exit code and output (for boot failures). */
export function runGatewayToExit(
  env: Record<string, string>,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawnMain(env);
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** `node dist/main.js` with exactly `env` (plus PATH): nothing leaks in from the test's environment. */
function spawnMain(
  env: Record<string, string>,
  nodeArgs: string[] = [],
): ChildProcessByStdio<null, Readable, Readable> {
  return spawn(process.execPath, [...nodeArgs, MAIN], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}
