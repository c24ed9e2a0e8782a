import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect as tcpConnect, type Socket as TcpSocket } from 'node:net';
import { GatewayProcess } from '../support/gateway-process.js';
import { http } from '../support/http.js';
import { eventually, metric } from '../support/metrics.js';
import { RawEngine } from '../support/raw-engine.js';
import { TestStack } from '../support/stack.js';
import { Waiter } from '../support/waiter.js';
import { serviceToken, token } from '../support/tokens.js';
import { Viewer, connectRefused, tcpSocketOf } from '../support/viewer.js';

/**
 * A client trying to hurt a replica, or the users on it, from the outside:
 * two replicas on one real Redis, real sockets, traffic on loopback only,
 * every loop bounded in count and time.
 */
describe('abuse: no client can exhaust a replica or lock a user out', () => {
  let stack: TestStack;
  let a: GatewayProcess;
  let b: GatewayProcess;
  const open: { close(): void }[] = [];
  let ip = 0;
  const address = () => `10.30.${Math.floor(++ip / 250)}.${ip % 250}`;
  const env = {
    TRUSTED_PROXIES: '127.0.0.1',
    MAX_CONNECTIONS_PER_USER: '2',
    RATE_LIMIT_HANDSHAKES_PER_MINUTE: '10',
    RATE_LIMIT_PUBLISH_PER_SECOND: '1000',
    RATE_LIMIT_READS_PER_SECOND: '10',
    REPLAY_STALL_TIMEOUT_MS: '3000',
    PUBLIC_ORIGIN: 'https://gateway.example.com',
  };
  const connect = async (replica: GatewayProcess, sub: string) => {
    const viewer = await Viewer.connect(replica.url, token({ sub }), { forwardedFor: address() });
    open.push(viewer);
    return viewer;
  };
  const publish = (replica: GatewayProcess, projectId: string, body: unknown) =>
    http('POST', `${replica.url}/api/projects/${projectId}/events`, {
      token: serviceToken(),
      body,
    });

  beforeAll(async () => {
    stack = await TestStack.start({ replicas: 2, prefix: `ab${process.pid}`, env });
    [a, b] = stack.replicas;
  }, 60_000);

  afterEach(() => open.splice(0).forEach((c) => c.close()));
  afterAll(() => stack?.stop());

  describe('replays', () => {
    const bigProject = 'replay-big';

    beforeAll(async () => {
      // 10,000 events of about 4 KB: 40 MB of history.
      const error = 'x'.repeat(3900);
      for (let batch = 0; batch < 100; batch++) {
        const events = Array.from({ length: 100 }, (_, i) => ({
          type: 'agent.run.failed',
          data: { runId: `r${batch * 100 + i}`, agentId: 'a1', error, willRetry: false },
        }));
        // Through the other replica: the one under attack starts from a plain baseline.
        const res = await publish(b, bigProject, events);
        expect(res.status).toBe(202);
      }
    }, 120_000);

    /**
     * A viewer that stops reading and asks for the same large replay every
     * 300 ms (under the message rate limit) for 8 s, while a bystander on the
     * same replica watches another project.
     */
    const attack = async (request: [string, Record<string, unknown>]) => {
      const rss = () => {
        const status = readFileSync(`/proc/${a.child.pid}/status`, 'utf8');
        return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
      };
      const before = rss();
      let peak = before;
      const lagged = await metric(a.url, 'gateway_lagged_disconnects_total');

      const bystander = await connect(a, 'bystander');
      expect(await bystander.subscribe({ projectId: 'replay-quiet' })).toMatchObject({ ok: true });

      const attacker = await connect(a, 'attacker');
      const tcp = tcpSocketOf(attacker.socket);
      tcp.pause();
      // A paused socket never reads the close: it is torn down by hand after the test.
      open.push({ close: () => tcp.destroy() });
      const until = Date.now() + 8000;
      let sent = 0;
      while (Date.now() < until) {
        attacker.socket.emit(request[0], request[1], () => undefined);
        sent++;
        for (let i = 0; i < 3; i++) {
          await new Promise((r) => setTimeout(r, 100));
          peak = Math.max(peak, rss());
        }
        if (sent % 5 === 0) {
          // The bystander keeps getting its events.
          const res = await publish(b, 'replay-quiet', {
            type: 'task.status.changed',
            data: { taskId: `t${sent}`, from: null, to: 'active' },
          });
          expect(res.status).toBe(202);
          await bystander.until((events) => events.some((e) => e.id === res.body.ids[0]));
        }
      }
      // The replica's memory stays far under the chart's 512 MiB limit.
      expect(peak - before).toBeLessThan(160 * 1024 * 1024);
      expect(peak).toBeLessThan(300 * 1024 * 1024);
      // The offender, backed up past the stall timeout, was lagged and disconnected
      // (at the latest its last replay's read plus the stall timeout after it stopped
      // asking; reads are slow on a loaded machine).
      await eventually(
        async () => (await metric(a.url, 'gateway_lagged_disconnects_total')) > lagged,
        30_000,
        'the stalled replayer to be dropped',
      );
    };

    it('keep a viewer that stops reading and replays the whole history again and again far under the memory limit, and drop it', async () => {
      await attack(['subscribe', { projectId: bigProject, since: '0-0' }]);
    }, 60_000);

    it('do the same for a run log whose oldest lines were trimmed, replayed again and again without since', async () => {
      // 5,100 lines of about 8 KB: the run keeps its last 5,000 (40 MB).
      const line = 'l'.repeat(8000);
      for (let batch = 0; batch < 51; batch++) {
        const lines = Array.from({ length: 100 }, (_, i) => ({
          type: 'agent.run.log',
          data: { runId: 'big-run', line, lineNumber: batch * 100 + i + 1 },
        }));
        expect((await publish(b, bigProject, lines)).status).toBe(202);
      }
      await attack(['logs:subscribe', { projectId: bigProject, runId: 'big-run' }]);
    }, 90_000);

    it('still replays a large history in full, in order, to a viewer that reads it', async () => {
      const viewer = await connect(b, 'reader');
      const ack = await viewer.subscribe({ projectId: bigProject, since: '0-0' });
      expect(ack).toMatchObject({ ok: true, position: '0-0', replayed: 10_000 });
      const events = await viewer.untilCount(10_000, 30_000);
      const ids = await stack.streamIds(bigProject);
      expect(events.map((e) => e.id)).toEqual(ids);
    }, 60_000);

    it('give every viewer its whole replay, in order, while the replica holds no more than its budget', async () => {
      const budget = 1024 * 1024;
      const small = await GatewayProcess.start(
        stack.env({ ...env, REPLAY_MAX_BYTES: String(budget) }),
      );
      try {
        const ids = await stack.streamIds('replay-big');
        const since = ids[ids.length - 2001];
        const replayBytes = () =>
          metric(small.url, 'gateway_internal_objects', 'kind="replay_bytes"');
        const viewers = await Promise.all(
          [0, 1, 2, 3].map((i) => connect(small, `budget-reader-${i}`)),
        );
        let most = 0;
        const acks = await Promise.all(
          viewers.map((v) => v.subscribe({ projectId: 'replay-big', since })),
        );
        for (const ack of acks)
          expect(ack).toMatchObject({ ok: true, position: since, replayed: 2000 });
        await Promise.all(
          viewers.map(async (v) => {
            while (v.events.length < 2000) {
              most = Math.max(most, await replayBytes());
              await v.untilCount(Math.min(2000, v.events.length + 1), 20_000);
            }
          }),
        );
        for (const v of viewers) expect(v.events.map((e) => e.id)).toEqual(ids.slice(-2000));
        expect(most).toBeLessThanOrEqual(budget);
        expect(await replayBytes()).toBe(0);
      } finally {
        await small.kill();
      }
    }, 60_000);
  });

  describe('connection slots', () => {
    it('a socket that sends its CONNECT and vanishes before the handshake completes keeps no slot', async () => {
      const sub = 'vanishing-socket';
      for (let i = 0; i < 3; i++) {
        const raw = await RawEngine.open(a.url, { 'X-Forwarded-For': address() });
        // The slot is taken while Redis is frozen: the client is gone before it answers.
        stack.redis.pause();
        try {
          await raw.sendAndVanish(`40${JSON.stringify({ token: token({ sub }) })}`);
          expect((await http('GET', `${a.url}/healthz`)).status).toBe(200);
        } finally {
          stack.redis.resume();
        }
      }
      // Two slots at most, and none is held: the user connects, on either replica.
      await eventually(async () => {
        try {
          open.push(await Viewer.connect(b.url, token({ sub }), { forwardedFor: address() }));
          return true;
        } catch {
          return false;
        }
      }, 5000);
      open.push(await connect(a, sub));
    }, 30_000);

    it('an SSE request dropped while it is being authenticated keeps no slot and leaves no stream', async () => {
      const sub = 'vanishing-sse';
      const path = '/api/projects/slots/events';
      for (let i = 0; i < 3; i++) {
        stack.redis.pause();
        try {
          await sendAndVanish(
            a.port,
            `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token({ sub })}\r\n\r\n`,
          );
          expect((await http('GET', `${a.url}/healthz`)).status).toBe(200);
        } finally {
          stack.redis.resume();
        }
      }
      await eventually(async () => (await metric(a.url, 'gateway_sse_streams')) === 0, 5000);
      const controller = new AbortController();
      open.push({ close: () => controller.abort() });
      let status = 0;
      await eventually(async () => {
        const res = await fetch(`${b.url}${path}`, {
          headers: { authorization: `Bearer ${token({ sub })}` },
          signal: controller.signal,
        });
        status = res.status;
        if (status !== 200) await res.text();
        return status === 200;
      }, 5000);
      expect(status).toBe(200);
    }, 30_000);
  });

  describe('the connection gate', () => {
    const handshake = (replica: GatewayProcess, query: string, from: string) =>
      fetch(`${replica.url}/socket.io/?EIO=4&transport=polling${query}`, {
        headers: { 'X-Forwarded-For': from },
      });

    it('counts an empty or unknown sid as a new handshake', async () => {
      for (const query of ['&sid=', '&sid=made-up']) {
        const from = address();
        const statuses: number[] = [];
        for (let i = 0; i < 12; i++) {
          const res = await handshake(a, query, from);
          await res.text();
          statuses.push(res.status);
        }
        expect(statuses).toContain(429);
      }
    });

    it('refuses an empty sid on a draining replica', async () => {
      const draining = await GatewayProcess.start(stack.env({ DRAIN_WINDOW_MS: '20000' }));
      try {
        // Viewers keep the drain (and the process) going: their disconnects are spread over its window.
        for (let i = 0; i < 10; i++) await connect(draining, `holds-drain-open-${i}`);
        draining.child.kill('SIGTERM');
        await eventually(
          async () => (await http('GET', `${draining.url}/readyz`)).status === 503,
          5000,
          'readiness to go false',
        );
        const res = await handshake(draining, '&sid=', address());
        expect(res.status).toBe(503);
        expect(await res.json()).toMatchObject({ error: { code: 'UNAVAILABLE' } });
      } finally {
        await draining.kill();
      }
    }, 30_000);
  });

  describe('socket packets', () => {
    it('counts every inbound packet: events without an ack, unknown events and stray acks get a flooder disconnected', async () => {
      const raw = await RawEngine.open(a.url, { 'X-Forwarded-For': address() });
      open.push(raw);
      expect(await raw.connect({ token: token({ sub: 'flooder' }) })).toMatch(/^40/);
      for (let i = 0; i < 400 && raw.isOpen; i++) {
        raw.send(['42["subscribe",{"projectId":"p"}]', '42["no-such-event",1]', '4317[]'][i % 3]);
      }
      await within(raw.closed, 5000, () => 'still connected');
    });

    it('answers RATE_LIMITED to an acked message that comes after unacked ones used up the budget', async () => {
      const raw = await RawEngine.open(a.url, { 'X-Forwarded-For': address() });
      open.push(raw);
      expect(await raw.connect({ token: token({ sub: 'burster' }) })).toMatch(/^40/);
      // The burst is twice the per-second rate (20): 60 unacked messages use it up.
      for (let i = 0; i < 60; i++) raw.send('42["no-such-event"]');
      raw.send('421["subscribe",{"projectId":"p"}]');
      await raw.until((frames) => frames.some((f) => f.startsWith('431')));
      expect(raw.frames.find((f) => f.startsWith('431'))).toContain('RATE_LIMITED');
    });
  });

  describe('the publish endpoint', () => {
    const headers = (extra: string) =>
      `POST /api/projects/pub/events HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
      `Authorization: Bearer ${serviceToken()}\r\nContent-Type: application/json\r\n${extra}\r\n`;

    it('answers a body announced too large at once and closes the connection instead of waiting for the body', async () => {
      const conn = await RawHttp.open(a.port);
      open.push(conn);
      conn.write(headers('Content-Length: 5000000\r\n') + '[{"type":');
      const answer = await conn.closedWith();
      expect(answer).toMatch(/^HTTP\/1\.1 413/);
    });

    it('keeps the connection of a client that goes on sending a refused body, and answers its next request', async () => {
      const conn = await RawHttp.open(a.port);
      open.push(conn);
      const body = JSON.stringify({
        type: 'task.status.changed',
        data: { taskId: 't1', from: null, to: 'done' },
      });
      const request = headers(`Content-Length: ${body.length}\r\n`).replace('/pub/', '/pub-kept/');
      conn.write(request.replace('application/json', 'text/plain') + body);
      conn.write(request + body);
      await conn.until((text) => (text.match(/HTTP\/1\.1 \d{3}/g) ?? []).length === 2);
      expect(conn.received).toMatch(/^HTTP\/1\.1 400[\s\S]*HTTP\/1\.1 202/);
    });

    it('answers a refused request whose body it did not read and closes the connection', async () => {
      const conn = await RawHttp.open(a.port);
      open.push(conn);
      conn.write(
        headers('Content-Length: 100000\r\n').replace('application/json', 'text/plain') +
          'x'.repeat(1000),
      );
      const answer = await conn.closedWith();
      expect(answer).toMatch(/^HTTP\/1\.1 400/);
      expect(answer).toContain('"details"');
    });

    it('caps the compressed bytes too: empty deflate blocks are refused with 413 before the body ends', async () => {
      const conn = await RawHttp.open(a.port);
      open.push(conn);
      conn.write(headers('Content-Encoding: deflate\r\nTransfer-Encoding: chunked\r\n'));
      // A zlib header, then empty stored blocks (5 bytes each) that decode to nothing.
      const empty = Buffer.alloc(5 * 100_000);
      for (let i = 0; i < empty.length; i += 5) empty.set([0, 0, 0, 0xff, 0xff], i);
      conn.chunk(Buffer.from([0x78, 0x9c]));
      for (let i = 0; i < 6 && conn.isOpen; i++) conn.chunk(empty);
      const answer = await conn.closedWith();
      expect(answer).toMatch(/^HTTP\/1\.1 413/);
    });

    it('refuses a body that names the project, and gives details for body-level errors', async () => {
      const named = await publish(a, 'pub', {
        type: 'task.status.changed',
        projectId: 'pub',
        data: { taskId: 't1', from: null, to: 'active' },
      });
      expect(named.status).toBe(400);
      expect(named.body.error).toMatchObject({
        code: 'INVALID_PAYLOAD',
        details: [{ path: 'projectId', problem: 'unknown field' }],
      });
      for (const rawBody of ['"a string"', 'not json', '42']) {
        const res = await http('POST', `${a.url}/api/projects/pub/events`, {
          token: serviceToken(),
          rawBody,
        });
        expect(res.status).toBe(400);
        expect(res.body.error.code).toBe('INVALID_PAYLOAD');
        expect(res.body.error.details.length).toBeGreaterThan(0);
      }
      expect(await stack.streamIds('pub')).toEqual([]);
    });
  });

  describe('snapshot and history reads', () => {
    const project = 'reads-big';

    beforeAll(async () => {
      // 10,000 entities (one agent each).
      for (let batch = 0; batch < 100; batch++) {
        const events = Array.from({ length: 100 }, (_, i) => ({
          type: 'agent.status.changed',
          data: { agentId: `agent-${batch * 100 + i}`, status: 'busy', previousStatus: 'idle' },
        }));
        expect((await publish(b, project, events)).status).toBe(202);
      }
    }, 120_000);

    it('rate limits reads per token with 429 and Retry-After, across replicas', async () => {
      const reader = token({ sub: 'poller' });
      const statuses: number[] = [];
      for (let i = 0; i < 30; i++) {
        const res = await http('GET', `${[a, b][i % 2].url}/api/projects/quiet/events/history`, {
          token: reader,
        });
        statuses.push(res.status);
        if (res.status === 429) {
          expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
          expect(res.body.error.code).toBe('RATE_LIMITED');
        }
      }
      expect(statuses).toContain(429);
      expect(statuses.filter((s) => s === 200).length).toBeGreaterThan(0);
    });

    it('shares one store read among concurrent snapshot reads of one project', async () => {
      // Each store read of a snapshot runs XINFO once (in the snapshot script); nothing else here does.
      const storeReads = async () => {
        const info = await stack.client.info('commandstats');
        return Number(/cmdstat_xinfo\|stream:calls=(\d+)/.exec(info)?.[1] ?? 0);
      };
      const readers = Array.from({ length: 8 }, (_, i) => token({ sub: `snap-${i}` }));
      const before = await storeReads();
      const results = await Promise.all(
        readers.map((t) => http('GET', `${a.url}/api/projects/${project}/snapshot`, { token: t })),
      );
      const after = await storeReads();
      expect(results.map((r) => r.status)).toEqual(readers.map(() => 200));
      const positions = new Set(results.map((r) => r.body.position as string));
      expect(positions.size).toBe(1);
      expect(Object.keys(results[0].body.snapshot as object).length).toBe(10_000);
      expect(after - before).toBeGreaterThan(0);
      expect(after - before).toBeLessThan(4);
    }, 30_000);
  });

  describe('tokens and tickets', () => {
    it('refuses a token issued further in the future than the clock skew allows', async () => {
      const future = token({
        sub: 'time-traveller',
        extra: { iat: Math.floor(Date.now() / 1000) + 3600 },
      });
      const err = await connectRefused(a.url, future, { forwardedFor: address() });
      expect(err.message).toBe('UNAUTHORIZED');
      const res = await http('GET', `${a.url}/api/projects/p/snapshot`, { token: future });
      expect(res.status).toBe(401);
    });

    it('never lets an SSE ticket outlive the token that minted it', async () => {
      const shortLived = token({ sub: 'brief', expiresIn: 2 });
      const minted = await http('POST', `${a.url}/api/sse-tickets`, {
        token: shortLived,
        body: { projectId: 'tickets' },
      });
      expect(minted.status).toBe(201);
      const exp = (
        JSON.parse(Buffer.from(shortLived.split('.')[1], 'base64url').toString()) as {
          exp: number;
        }
      ).exp;
      expect(Date.parse(minted.body.expiresAt)).toBeLessThanOrEqual(exp * 1000);
      // Wait out the token (the ticket's own 30 s have not passed).
      await new Promise((r) => setTimeout(r, exp * 1000 - Date.now() + 200));
      const res = await fetch(`${b.url}/api/projects/tickets/events?ticket=${minted.body.ticket}`);
      expect(res.status).toBe(401);
      expect(await res.text()).not.toContain('event: ready');
    });

    it('answers a made-up ticket like a spent one: 401', async () => {
      for (const ticket of ['made-up', 'A'.repeat(43)]) {
        const res = await http('GET', `${a.url}/api/projects/tickets/events?ticket=${ticket}`);
        expect(res.status).toBe(401);
        expect(res.body.error.code).toBe('UNAUTHORIZED');
      }
    });
  });

  describe('browser origins', () => {
    const polling = (origin: string, host: string) =>
      new Promise<number>((resolve, reject) => {
        const req = httpRequest(
          {
            host: '127.0.0.1',
            port: a.port,
            path: '/socket.io/?EIO=4&transport=polling',
            headers: { Origin: origin, Host: host, 'X-Forwarded-For': address() },
          },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', reject);
        req.end();
      });

    it('judges Origin by the allowlist and the public origin, never by the Host header', async () => {
      expect(await polling('http://evil.test', 'evil.test')).toBe(403);
      expect(await polling(`http://127.0.0.1:${a.port}`, `127.0.0.1:${a.port}`)).toBe(403);
      expect(await polling('https://gateway.example.com', 'evil.test')).toBe(200);
    });
  });
});

describe('abuse: the contract on trimmed history', () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await TestStack.start({
      replicas: 1,
      prefix: `at${process.pid}`,
      env: { HISTORY_MAX_EVENTS: '10' },
    });
  }, 60_000);
  afterAll(() => stack?.stop());

  it('answers since 0-0 with a resync (socket) and 410 RESYNC (history) once anything was trimmed', async () => {
    const [replica] = stack.replicas;
    const events = Array.from({ length: 15 }, (_, i) => ({
      type: 'task.status.changed',
      data: { taskId: `t${i}`, from: null, to: 'active' },
    }));
    const res = await http('POST', `${replica.url}/api/projects/trimmed/events`, {
      token: serviceToken(),
      body: events,
    });
    expect(res.status).toBe(202);
    const viewer = await Viewer.connect(replica.url, token());
    try {
      const ack = await viewer.subscribe({ projectId: 'trimmed', since: '0-0' });
      expect(ack).toMatchObject({ ok: true, resync: true, replayed: 0 });
      expect(Object.keys(ack.snapshot ?? {})).toHaveLength(15);
    } finally {
      viewer.close();
    }
    const history = await http(
      'GET',
      `${replica.url}/api/projects/trimmed/events/history?since=0-0`,
      { token: token() },
    );
    expect(history.status).toBe(410);
    expect(history.body.error.code).toBe('RESYNC');
  });
});

/** A raw HTTP/1.1 connection: what was written back, and when the server closed it. */
class RawHttp {
  received = '';
  private readonly ended: Promise<void>;
  private readonly waiter = new Waiter();

  private constructor(private readonly socket: TcpSocket) {
    socket.on('data', (chunk: Buffer) => {
      this.received += chunk.toString('latin1');
      this.waiter.notify();
    });
    this.ended = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => undefined);
  }

  static open(port: number): Promise<RawHttp> {
    return new Promise((resolve, reject) => {
      const socket = tcpConnect(port, '127.0.0.1', () => resolve(new RawHttp(socket)));
      socket.once('error', reject);
    });
  }

  get isOpen(): boolean {
    return !this.socket.destroyed && this.socket.writable;
  }

  write(text: string): void {
    this.socket.write(text);
  }

  /** One chunk of a chunked body. */
  chunk(data: Buffer): void {
    if (!this.isOpen) return;
    this.socket.write(`${data.length.toString(16)}\r\n`);
    this.socket.write(data);
    this.socket.write('\r\n');
  }

  /** Resolves once `predicate` holds over what was received (within 10 s). */
  until(predicate: (text: string) => boolean): Promise<void> {
    return this.waiter.until(
      () => predicate(this.received),
      10_000,
      () => `answers; got: ${this.received}`,
    );
  }

  /** What the server answered, once it closed the connection (within 10 s). */
  async closedWith(): Promise<string> {
    await within(this.ended, 10_000, () => `connection still open; got: ${this.received}`);
    return this.received;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** `promise`, or a rejection saying `what` after `ms`; the timer never outlives the wait. */
async function within<T>(promise: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(what())), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Writes `text` on a fresh TCP connection and, once it is on the network, resets the connection. */
function sendAndVanish(port: number, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket: TcpSocket = tcpConnect(port, '127.0.0.1', () => {
      socket.write(text, () => {
        socket.resetAndDestroy();
        resolve();
      });
    });
    socket.on('error', reject);
  });
}
