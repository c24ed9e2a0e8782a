import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { freePort } from './free-port.js';

/**
 * A private `redis-server` on a free port, owned by one test file: nothing is
 * saved to disk, and the machine's own Redis on 6379 is never touched.
 */
export class RedisServer {
  private constructor(
    readonly port: number,
    private process: ChildProcess,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<RedisServer> {
    assertRedisInstalled();
    const port = await freePort();
    const child = RedisServer.spawn(port);
    const server = new RedisServer(port, child);
    await server.waitUntilReady();
    return server;
  }

  private static spawn(port: number): ChildProcess {
    return spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    );
  }

  client(): Redis {
    return new Redis(this.port, '127.0.0.1', { lazyConnect: false, maxRetriesPerRequest: 1 });
  }

  async waitUntilReady(): Promise<void> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const probe = new Redis(this.port, '127.0.0.1', {
        lazyConnect: true,
        retryStrategy: () => null,
        maxRetriesPerRequest: 0,
      });
      probe.on('error', () => undefined);
      try {
        await probe.connect();
        await probe.ping();
        probe.disconnect();
        return;
      } catch {
        probe.disconnect();
        if (Date.now() > deadline) throw new Error(`redis-server on ${this.port} did not start`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  /** Kills it (SIGKILL) and starts an empty one on the same port. */
  async restartEmpty(): Promise<void> {
    await this.stop();
    this.process = RedisServer.spawn(this.port);
    await this.waitUntilReady();
  }

  async stop(): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return;
    const exited = new Promise((r) => this.process.once('exit', r));
    this.process.kill('SIGKILL');
    await exited;
  }
}

let checked = false;
function assertRedisInstalled(): void {
  if (checked) return;
  const probe = spawnSync('redis-server', ['--version']);
  if (probe.error || probe.status !== 0) {
    throw new Error(
      'redis-server is not installed; install it with `apt-get update && apt-get install -y redis-server`',
    );
  }
  checked = true;
}
