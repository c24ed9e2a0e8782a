import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster } from 'ioredis';

/** A free port whose cluster bus port (+10000) is free too. */
async function clusterPort(): Promise<number> {
  const listen = (port: number) =>
    new Promise<number | null>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(null));
      s.listen(port, '127.0.0.1', () => {
        const actual = (s.address() as { port: number }).port;
        s.close(() => resolve(actual));
      });
    });
  for (;;) {
    const port = await listen(20000 + Math.floor(Math.random() * 30000));
    if (port !== null && (await listen(port + 10000)) !== null) return port;
  }
}

/**
 * A private three-master Redis Cluster on local ports, made the way an
 * operator would: `redis-server --cluster-enabled yes` three times, then
 * `redis-cli --cluster create`. Nothing saved; the machine's Redis untouched.
 */
export class RedisClusterServer {
  private constructor(
    readonly ports: number[],
    private readonly processes: ChildProcess[],
  ) {}

  /** `host:port,...` for REDIS_CLUSTER_NODES. */
  get nodes(): string {
    return this.ports.map((p) => `127.0.0.1:${p}`).join(',');
  }

  static async start(masters = 3): Promise<RedisClusterServer> {
    for (const bin of ['redis-server', 'redis-cli']) {
      if (spawnSync(bin, ['--version']).status !== 0) {
        throw new Error(
          `${bin} is not installed: apt-get update && apt-get install -y redis-server`,
        );
      }
    }
    const dir = mkdtempSync(join(tmpdir(), 'redis-cluster-'));
    const ports: number[] = [];
    const processes: ChildProcess[] = [];
    for (let i = 0; i < masters; i++) {
      const port = await clusterPort();
      ports.push(port);
      const child = spawn(
        'redis-server',
        [
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          join(dir, `nodes-${port}.conf`),
          '--cluster-node-timeout',
          '2000',
          '--save',
          '',
          '--appendonly',
          'no',
          '--dir',
          dir,
        ],
        { stdio: ['ignore', 'pipe', 'ignore'] },
      );
      processes.push(child);
      await new Promise<void>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (c: Buffer) => {
          out += c.toString();
          if (out.includes('Ready to accept connections')) {
            child.stdout.resume();
            resolve();
          }
        });
        child.once('exit', (code) =>
          reject(new Error(`redis-server ${port} exited ${code}: ${out}`)),
        );
      });
    }
    const create = spawnSync(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...ports.map((p) => `127.0.0.1:${p}`),
        '--cluster-replicas',
        '0',
        '--cluster-yes',
      ],
      { encoding: 'utf8' },
    );
    if (create.status !== 0)
      throw new Error(`cluster create failed: ${create.stdout}${create.stderr}`);
    const cluster = new RedisClusterServer(ports, processes);
    await cluster.waitUntilOk();
    return cluster;
  }

  client(): Cluster {
    return new Cluster(this.ports.map((port) => ({ host: '127.0.0.1', port })));
  }

  private async waitUntilOk(): Promise<void> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const states = this.ports.map(
        (p) =>
          spawnSync('redis-cli', ['-p', String(p), 'cluster', 'info'], { encoding: 'utf8' }).stdout,
      );
      if (states.every((s) => s.includes('cluster_state:ok'))) return;
      if (Date.now() > deadline) throw new Error(`cluster not ok: ${states.join('\n')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.processes.map(
        (p) =>
          new Promise<void>((resolve) => {
            if (p.exitCode !== null || p.signalCode !== null) return resolve();
            p.once('exit', () => resolve());
            p.kill('SIGKILL');
          }),
      ),
    );
  }
}
