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
    return new RedisServer(port, await RedisServer.spawnReady(port));
  }

  /** Starts redis-server and resolves when it says it accepts connections. */
  private static spawnReady(port: number): Promise<ChildProcess> {
    const child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    return new Promise((resolve, reject) => {
      let out = '';
      const onData = (chunk: Buffer) => {
        out += chunk.toString();
        if (!out.includes('Ready to accept connections')) return;
        child.stdout.off('data', onData);
        child.stdout.resume(); // keep draining its log so it never blocks
        resolve(child);
      };
      child.stdout.on('data', onData);
      child.once('exit', (code) =>
        reject(new Error(`redis-server on ${port} exited (${code}):\n${out}`)),
      );
    });
  }

  client(): Redis {
    return new Redis(this.port, '127.0.0.1', { lazyConnect: false, maxRetriesPerRequest: 1 });
  }

  /** Freezes the process (SIGSTOP): connections stay open and nothing answers. */
  pause(): void {
    this.process.kill('SIGSTOP');
  }

  resume(): void {
    this.process.kill('SIGCONT');
  }

  /** Kills it (SIGKILL) and starts an empty one on the same port. */
  async restartEmpty(): Promise<void> {
    await this.stop();
    this.process = await RedisServer.spawnReady(this.port);
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
