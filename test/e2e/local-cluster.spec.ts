import { spawn, type ChildProcess } from 'node:child_process';
import jwt from 'jsonwebtoken';
import { join } from 'node:path';
import { io } from 'socket.io-client';
import { http } from '../support/http.js';
import { ResumingViewer, strictlyIncreasingIds } from '../support/resuming-viewer.js';
import { SseReader } from '../support/sse-client.js';

interface Cluster {
  url: string;
  redisUrl: string;
  replicas: { url: string; pid: number }[];
  viewerToken: string;
  publishToken: string;
  /** The cluster's development secret, to sign one token per test viewer. */
  secret: string;
}

/**
 * `npm run cluster`: Redis, three replicas and HAProxy from Debian's
 * packages, exercised through the load balancer as users would reach it:
 * WebSocket, Engine.IO polling (sticky), SSE, and a replica killed behind it.
 */
describe('local cluster behind HAProxy (npm run cluster)', () => {
  let child: ChildProcess;
  let cluster: Cluster;

  beforeAll(async () => {
    child = spawn(
      process.execPath,
      [
        join(__dirname, '..', '..', 'scripts', 'cluster.mjs'),
        '--replicas',
        '3',
        '--port',
        '0',
        '--json',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    cluster = await new Promise<Cluster>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const line = out.split('\n').find((l) => l.startsWith('{'));
        if (line) resolve(JSON.parse(line) as Cluster);
      });
      child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
      child.once('exit', (code) => reject(new Error(`cluster exited ${code}: ${out}`)));
    });
  }, 60_000);

  afterAll(() => {
    child?.kill('SIGTERM');
  });

  const publish = (projectId: string, taskId: string) =>
    http('POST', `${cluster.url}/api/projects/${projectId}/events`, {
      token: cluster.publishToken,
      body: { type: 'task.status.changed', data: { taskId, from: null, to: 'active' } },
    });

  it('serves the dashboard, readiness and the API through the load balancer', async () => {
    expect((await http('GET', `${cluster.url}/readyz`)).status).toBe(200);
    const page = await http<string>('GET', `${cluster.url}/`);
    expect(page.body).toContain('Live dashboard');
    expect((await publish('lb', 't1')).status).toBe(202);
  });

  it('keeps Engine.IO polling sessions on one replica with a cookie (and only them)', async () => {
    const socket = io(cluster.url, {
      transports: ['polling'],
      withCredentials: true,
      auth: { token: cluster.viewerToken },
      reconnection: false,
      forceNew: true,
    });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('connect_error', reject);
      });
      const ack = (await socket.timeout(5000).emitWithAck('subscribe', { projectId: 'poll' })) as {
        ok: boolean;
      };
      expect(ack.ok).toBe(true);
      const got = new Promise<{ data: { taskId: string } }[]>((resolve) =>
        socket.once('events', resolve),
      );
      expect((await publish('poll', 'by-polling')).status).toBe(202);
      expect((await got)[0].data.taskId).toBe('by-polling');
    } finally {
      socket.close();
    }
    const plain = await fetch(`${cluster.url}/readyz`);
    expect(plain.headers.get('set-cookie')).toBeNull();
  });

  it('streams SSE through the load balancer', async () => {
    const reader = await SseReader.open(`${cluster.url}/api/projects/sse-lb/events`, {
      authorization: `Bearer ${cluster.viewerToken}`,
    });
    try {
      await reader.until((r) => r.named('ready').length === 1);
      expect((await publish('sse-lb', 'through-lb')).status).toBe(202);
      await reader.until((r) => r.events.length === 1);
      expect(reader.events[0].data).toMatchObject({ taskId: 'through-lb' });
    } finally {
      reader.close();
    }
  });

  it('loses nothing when a replica behind it is killed: viewers come back through the load balancer', async () => {
    const p = 'lb-kill';
    const viewers = await Promise.all(
      // One user each: the default cap is 5 connections per user.
      Array.from({ length: 6 }, (_, i) =>
        ResumingViewer.start({
          nextUrl: () => cluster.url,
          token: jwt.sign({ sub: `lb-viewer-${i}`, projects: ['*'] }, cluster.secret, {
            expiresIn: 600,
          }),
          projectId: p,
        }),
      ),
    );
    try {
      for (let i = 0; i < 10; i++) expect((await publish(p, `a${i}`)).status).toBe(202);
      await Promise.all(viewers.map((v) => v.until(() => v.events.length === 10)));
      process.kill(cluster.replicas[1].pid, 'SIGKILL');
      for (let i = 0; i < 10; i++) {
        // The publish may land on the dead replica before HAProxy notices: retry like a client.
        for (;;) {
          const res = await publish(p, `b${i}`).catch(() => ({ status: 0 }));
          if (res.status === 202) break;
        }
      }
      await Promise.all(viewers.map((v) => v.until(() => v.events.length >= 20, 20_000)));
      for (const v of viewers) {
        strictlyIncreasingIds(v.events);
        expect(v.events.map((e) => (e.data as { taskId: string }).taskId)).toEqual([
          ...Array.from({ length: 10 }, (_, i) => `a${i}`),
          ...Array.from({ length: 10 }, (_, i) => `b${i}`),
        ]);
        expect(v.failedResumes).toEqual([]);
      }
    } finally {
      viewers.forEach((v) => v.stop());
    }
  }, 40_000);
});
