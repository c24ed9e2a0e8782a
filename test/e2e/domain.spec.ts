import { connect } from 'node:net';
import { GatewayProcess } from '../support/gateway-process.js';
import { http } from '../support/http.js';
import { eventually } from '../support/metrics.js';
import { TestStack } from '../support/stack.js';
import { serviceToken, token } from '../support/tokens.js';

/**
 * The example domain's routes behind a load balancer: three replicas on one
 * real redis-server, with no domain state in any of them. Whatever a replica
 * answers depends only on the store, racing writers get exactly one winner,
 * and a retried write (same Idempotency-Key) publishes nothing new.
 */
describe('domain routes across three replicas', () => {
  let stack: TestStack;
  const svc = serviceToken();
  let seq = 0;
  const project = () => `dm${Date.now().toString(36)}${++seq}`;
  const replica = (i: number) => stack.replicas[i % stack.replicas.length];

  const call = (
    i: number,
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
    t = svc,
  ) => http(method, `${replica(i).url}/api/projects${path}`, { token: t, body, headers });

  /** Every event of the project stream, oldest first. */
  const stream = async (projectId: string) =>
    (await stack.client.xrange(`${stack.prefix}:{${projectId}}:events`, '-', '+')).map(
      ([id, fields]) => ({ id, ...(JSON.parse(fields[1]) as { type: string; data: object }) }),
    );

  beforeAll(async () => {
    stack = await TestStack.start({ replicas: 3, prefix: `dm${process.pid}` });
  }, 60_000);

  afterAll(async () => {
    await stack?.stop();
  });

  it('creates a task on A, moves it on B and reads it on C, with its version as ETag', async () => {
    const p = project();
    const created = await call(0, 'POST', `/${p}/tasks`, { taskId: 't1' });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({ taskId: 't1', status: 'planning', version: expect.any(String) });
    expect(created.headers.get('etag')).toBe(`"${created.body.version}"`);

    const moved = await call(1, 'POST', `/${p}/tasks/t1/status`, { to: 'active' });
    expect(moved.status).toBe(200);
    expect(moved.body).toMatchObject({ ok: true, taskId: 't1', status: 'active' });

    const read = await call(2, 'GET', `/${p}/tasks/t1`);
    expect(read.status).toBe(200);
    expect(read.body).toEqual({
      taskId: 't1',
      status: 'active',
      version: moved.body.version,
      subtasks: [],
    });
    expect(read.headers.get('etag')).toBe(`"${moved.body.version}"`);
    expect((await call(0, 'GET', `/${p}/tasks`)).body).toEqual([read.body]);
    expect((await call(1, 'GET', `/${p}/entities/task:t1`)).body).toMatchObject({
      entityKey: 'task:t1',
      version: moved.body.version,
      event: { id: moved.body.version, type: 'task.status.changed', data: { to: 'active' } },
    });
    expect((await call(2, 'GET', `/${p}/tasks/t2`)).status).toBe(404);
    expect((await call(2, 'GET', `/${p}/entities/task:t2`)).body.error.code).toBe('NOT_FOUND');
    expect((await call(2, 'GET', `/${p}/entities/nokind`)).body.error.code).toBe('INVALID_PAYLOAD');
  });

  it('of N concurrent conflicting moves spread over the replicas, exactly one wins and one event is published', async () => {
    const p = project();
    // Several tasks raced at once, so that the requests of one task truly overlap.
    const tasks = ['t1', 't2', 't3', 't4', 't5', 't6'];
    await Promise.all(tasks.map((t, i) => call(i, 'POST', `/${p}/tasks`, { taskId: t })));
    const n = 12;
    const raced = await Promise.all(
      tasks.map((t) =>
        Promise.all(
          Array.from({ length: n }, (_, i) =>
            call(i, 'POST', `/${p}/tasks/${t}/status`, {
              to: i % 2 ? 'active' : 'planning_failed',
            }),
          ),
        ),
      ),
    );
    const events = await stream(p);
    for (const [k, results] of raced.entries()) {
      const taskId = tasks[k];
      const won = results.filter((r) => r.status === 200);
      const lost = results.filter((r) => r.status === 409);
      expect([taskId, won.length, lost.length]).toEqual([taskId, 1, n - 1]);
      const winner = won[0].body as { status: string; version: string };
      for (const r of lost) {
        expect(r.body.error).toMatchObject({
          code: 'CONFLICT',
          details: {
            entityKey: `task:${taskId}`,
            version: winner.version,
            current: { id: winner.version, data: { taskId, to: winner.status } },
          },
        });
      }
      expect(
        events.filter((e) => (e.data as { taskId: string }).taskId === taskId).map((e) => e.data),
      ).toEqual([
        { taskId, from: null, to: 'planning' },
        { taskId, from: 'planning', to: winner.status },
      ]);
    }
  });

  it('takes If-Match: a stale version is CONFLICT with the current state, and nothing is published', async () => {
    const p = project();
    const created = await call(0, 'POST', `/${p}/tasks`, { taskId: 't1' });
    const v1 = created.body.version as string;
    const moved = await call(
      1,
      'POST',
      `/${p}/tasks/t1/status`,
      { to: 'active' },
      {
        'If-Match': `"${v1}"`,
      },
    );
    expect(moved.status).toBe(200);
    const stale = await call(
      2,
      'POST',
      `/${p}/tasks/t1/status`,
      { to: 'done' },
      {
        'If-Match': `"${v1}"`,
      },
    );
    expect(stale.status).toBe(409);
    expect(stale.body.error).toMatchObject({
      code: 'CONFLICT',
      details: {
        entityKey: 'task:t1',
        version: moved.body.version,
        current: { data: { to: 'active' } },
      },
    });
    expect(await stream(p)).toHaveLength(2);

    // If-None-Match: * creates only what does not exist.
    const again = await call(0, 'POST', `/${p}/tasks`, { taskId: 't1' }, { 'If-None-Match': '*' });
    expect(again.body.error).toMatchObject({ code: 'CONFLICT', details: { entityKey: 'task:t1' } });
    for (const [name, value] of [
      ['If-Match', v1],
      ['If-Match', 'W/"1-0"'],
      ['If-Match', '"a", "b"'],
      ['If-Match', '*'],
      ['If-None-Match', '"1-0"'],
    ]) {
      const bad = await call(1, 'POST', `/${p}/tasks/t1/status`, { to: 'done' }, { [name]: value });
      expect([name, value, bad.status, bad.body.error.code]).toEqual([
        name,
        value,
        400,
        'INVALID_PAYLOAD',
      ]);
    }
    expect(await stream(p)).toHaveLength(2);
  });

  it('answers a retried write with the same Idempotency-Key as the first, on any replica, publishing nothing', async () => {
    const p = project();
    const key = { 'Idempotency-Key': `create-${p}` };
    // No taskId: the first write chooses one, and the retry must get the same.
    const first = await call(0, 'POST', `/${p}/tasks`, {}, key);
    expect(first.status).toBe(201);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    for (const i of [1, 2]) {
      const retry = await call(i, 'POST', `/${p}/tasks`, {}, key);
      expect(retry.status).toBe(201);
      expect(retry.body).toEqual(first.body);
      expect(retry.headers.get('idempotent-replayed')).toBe('true');
      expect(retry.headers.get('etag')).toBe(first.headers.get('etag'));
    }
    // Replayed, not judged again: the move it made would now be refused.
    const moveKey = { 'Idempotency-Key': `move-${p}` };
    const path = `/${p}/tasks/${first.body.taskId}/status`;
    const moved = await call(0, 'POST', path, { to: 'active' }, moveKey);
    const movedAgain = await call(1, 'POST', path, { to: 'active' }, moveKey);
    expect([moved.status, movedAgain.status]).toEqual([200, 200]);
    expect(movedAgain.body).toEqual(moved.body);

    const mismatch = await call(2, 'POST', path, { to: 'done' }, moveKey);
    expect(mismatch.status).toBe(422);
    expect(mismatch.body.error.code).toBe('IDEMPOTENCY_MISMATCH');
    // Keys are per publishing sub: another service's same key is its own.
    const other = token({ sub: 'svc-other', scope: 'events:publish' });
    const theirs = await call(2, 'POST', path, { to: 'done' }, moveKey, other);
    expect(theirs.status).toBe(200);
    expect(await stream(p)).toHaveLength(3);

    for (const bad of ['', 'x'.repeat(129), 'with space', 'é']) {
      const res = await call(0, 'POST', `/${p}/tasks`, {}, { 'Idempotency-Key': bad });
      expect([bad, res.status, res.body.error?.code]).toEqual([bad, 400, 'INVALID_PAYLOAD']);
    }
    expect(await stream(p)).toHaveLength(3);
  });

  it('drives subtasks: dependencies block, merging unblocks, also when two dependencies merge at once on two replicas', async () => {
    const p = project();
    await call(0, 'POST', `/${p}/tasks`, { taskId: 't1' });
    for (const [i, s] of ['a', 'b'].entries()) {
      const res = await call(i, 'POST', `/${p}/tasks/t1/subtasks`, { subtaskId: s });
      expect(res.body).toMatchObject({ subtaskId: s, status: 'ready' });
    }
    const c = await call(2, 'POST', `/${p}/tasks/t1/subtasks`, {
      subtaskId: 'c',
      dependsOn: ['a', 'b'],
    });
    expect(c.body).toMatchObject({ subtaskId: 'c', status: 'blocked' });
    expect(
      (await call(0, 'POST', `/${p}/tasks/t1/subtasks`, { subtaskId: 'd', dependsOn: ['zz'] })).body
        .error.code,
    ).toBe('NOT_FOUND');
    for (const s of ['a', 'b']) {
      for (const to of ['in_progress', 'completed']) {
        expect((await call(1, 'POST', `/${p}/tasks/t1/subtasks/${s}/status`, { to })).status).toBe(
          200,
        );
      }
    }
    expect((await call(1, 'GET', `/${p}/tasks/t1`)).body.subtasks).toContainEqual(
      expect.objectContaining({ subtaskId: 'c', status: 'blocked', dependsOn: ['a', 'b'] }),
    );
    const merges = await Promise.all(
      ['a', 'b'].map((s, i) =>
        call(i, 'POST', `/${p}/tasks/t1/subtasks/${s}/status`, { to: 'merged' }),
      ),
    );
    expect(merges.map((m) => m.status)).toEqual([200, 200]);
    const events = await stream(p);
    const unblocks = events.filter((e) => e.type === 'subtask.unblocked');
    expect(unblocks).toHaveLength(1);
    expect((await call(2, 'GET', `/${p}/tasks/t1`)).body.subtasks).toContainEqual(
      expect.objectContaining({ subtaskId: 'c', status: 'ready', dependsOn: [] }),
    );
    expect(
      (await call(0, 'POST', `/${p}/tasks/t1/subtasks/c/status`, { to: 'merged' })).body.error,
    ).toMatchObject({ code: 'CONFLICT', details: { entityKey: 'subtask:c' } });
  });

  it('runs: busy agents refuse a second run, log lines number on across replicas, an ended run takes nothing', async () => {
    const p = project();
    const start = await call(0, 'POST', `/${p}/agents/a1/runs`, {
      agentType: 'worker',
      taskId: 't1',
      runId: 'r1',
    });
    expect(start.status).toBe(201);
    expect(start.body).toEqual({ runId: 'r1', agentId: 'a1', version: expect.any(String) });
    const busy = await call(1, 'POST', `/${p}/agents/a1/runs`, {
      agentType: 'worker',
      taskId: 't1',
    });
    expect(busy.body.error).toMatchObject({ code: 'CONFLICT', details: { entityKey: 'agent:a1' } });
    const lines = [];
    for (const i of [0, 1, 2]) {
      lines.push((await call(i, 'POST', `/${p}/runs/r1/logs`, { line: `line ${i}` })).body);
    }
    expect(lines.map((l: { lineNumber: number }) => l.lineNumber)).toEqual([1, 2, 3]);
    expect((await call(1, 'GET', `/${p}/active-runs`)).body.runs).toEqual([
      expect.objectContaining({ runId: 'r1', agentId: 'a1' }),
    ]);
    const done = await call(2, 'POST', `/${p}/runs/r1/complete`, { prUrl: 'https://x.test/1' });
    expect(done.body).toMatchObject({ ok: true, runId: 'r1', agentId: 'a1' });
    expect((await call(0, 'POST', `/${p}/runs/r1/logs`, { line: 'late' })).status).toBe(404);
    expect(
      (await call(1, 'POST', `/${p}/runs/r1/fail`, { error: 'x', willRetry: false })).status,
    ).toBe(404);
    expect((await call(2, 'GET', `/${p}/active-runs`)).body.runs).toEqual([]);
    const again = await call(0, 'POST', `/${p}/agents/a1/runs`, {
      agentType: 'worker',
      taskId: 't1',
    });
    expect(again.status).toBe(201);
    const failed = await call(1, 'POST', `/${p}/runs/${again.body.runId}/fail`, {
      error: 'boom',
      willRetry: false,
    });
    expect(failed.status).toBe(200);
    expect((await call(2, 'GET', `/${p}/entities/agent:a1`)).body.event.data).toEqual({
      agentId: 'a1',
      status: 'error',
      previousStatus: 'busy',
    });
    const sample = await call(0, 'POST', `/${p}/resources/samples`, {
      host: 'h1',
      cpuPercent: 5,
      memoryPercent: 6,
    });
    expect(sample.status).toBe(202);
    expect(sample.body).toEqual({ host: 'h1', id: expect.any(String), version: sample.body.id });
  });

  it('refuses bad input with coded errors, and callers without access, publishing nothing', async () => {
    const p = project();
    await call(0, 'POST', `/${p}/tasks`, { taskId: 't1' });
    const cases: [string, string, unknown, number, string][] = [
      ['POST', `/${p}/tasks`, { taskId: 'bad id' }, 400, 'INVALID_PAYLOAD'],
      ['POST', `/${p}/tasks`, { taskId: 't9', extra: 1 }, 400, 'INVALID_PAYLOAD'],
      ['POST', `/${p}/tasks/t1/status`, { to: 'nowhere' }, 400, 'INVALID_PAYLOAD'],
      ['POST', `/${p}/tasks/t1/status`, { to: 'done' }, 409, 'CONFLICT'],
      ['POST', `/${p}/tasks/nope/status`, { to: 'active' }, 404, 'NOT_FOUND'],
      [
        'POST',
        `/${p}/tasks/t1/subtasks`,
        { subtaskId: 's', dependsOn: 'a' },
        400,
        'INVALID_PAYLOAD',
      ],
      ['POST', `/${p}/tasks/t1/subtasks/none/status`, { to: 'in_progress' }, 404, 'NOT_FOUND'],
      ['POST', `/${p}/agents/a1/runs`, { taskId: 't1' }, 400, 'INVALID_PAYLOAD'],
      ['POST', `/${p}/runs/none/logs`, { line: 'x' }, 404, 'NOT_FOUND'],
      ['POST', `/${p}/runs/none/logs`, { line: 'x'.repeat(9000) }, 400, 'INVALID_PAYLOAD'],
      ['POST', `/${p}/runs/none/complete`, {}, 404, 'NOT_FOUND'],
      ['POST', `/${p}/runs/none/fail`, { error: 'x' }, 400, 'INVALID_PAYLOAD'],
      [
        'POST',
        `/${p}/resources/samples`,
        { host: 'h', cpuPercent: 101, memoryPercent: 1 },
        400,
        'INVALID_PAYLOAD',
      ],
      ['POST', `/bad%20project/tasks`, {}, 400, 'INVALID_PAYLOAD'],
    ];
    for (const [i, [method, path, body, status, code]] of cases.entries()) {
      const res = await call(i, method, path, body);
      expect([path, body, res.status, res.body.error?.code]).toEqual([path, body, status, code]);
    }
    const viewer = token({ projects: [p] });
    const elsewhere = token({ projects: ['other'], scope: 'events:publish' });
    expect((await call(0, 'POST', `/${p}/tasks`, {}, {}, viewer)).status).toBe(403);
    expect((await call(1, 'POST', `/${p}/tasks`, {}, {}, elsewhere)).status).toBe(403);
    expect((await call(2, 'GET', `/${p}/tasks`, undefined, {}, elsewhere)).status).toBe(403);
    expect((await call(2, 'GET', `/${p}/tasks`, undefined, {}, viewer)).status).toBe(200);
    expect(
      (await http('POST', `${replica(0).url}/api/projects/${p}/tasks`, { body: {} })).status,
    ).toBe(401);
    expect(await stream(p)).toHaveLength(1);
  });

  it('keeps state across a replica restart: it lives in the store', async () => {
    const p = project();
    await call(0, 'POST', `/${p}/tasks`, { taskId: 't1' });
    await stack.replicas[0].kill();
    stack.replicas[0] = await GatewayProcess.start(stack.env());
    const moved = await call(0, 'POST', `/${p}/tasks/t1/status`, { to: 'active' });
    expect(moved.body).toMatchObject({ taskId: 't1', status: 'active' });
  }, 30_000);
});

/**
 * The publish API's conditions, and the retry a producer makes after losing
 * its connection: the request was accepted, the answer never came back.
 */
describe('publish API: If-Match and Idempotency-Key', () => {
  let stack: TestStack;
  const svc = serviceToken();
  let seq = 0;
  const project = () => `pi${Date.now().toString(36)}${++seq}`;
  const publish = (i: number, p: string, body: unknown, headers: Record<string, string> = {}) =>
    http('POST', `${stack.replicas[i].url}/api/projects/${p}/events`, {
      token: svc,
      body,
      headers,
    });
  const task = (to: string, taskId = 't1') => ({
    type: 'task.status.changed',
    data: { taskId, from: null, to },
  });
  const streamLength = (p: string) => stack.client.xlen(`${stack.prefix}:{${p}}:events`);

  beforeAll(async () => {
    stack = await TestStack.start({ replicas: 2, prefix: `pi${process.pid}` });
  }, 60_000);

  afterAll(async () => {
    await stack?.stop();
  });

  it('gives a retried publish with the same key the same ids and publishes no new event', async () => {
    const p = project();
    const headers = { 'Idempotency-Key': 'batch-1' };
    const body = [task('planning', 't1'), task('planning', 't2')];
    const first = await publish(0, p, body, headers);
    expect(first.status).toBe(202);
    const retry = await publish(1, p, body, headers);
    expect(retry.status).toBe(202);
    expect(retry.body).toEqual(first.body);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(await streamLength(p)).toBe(2);
    const other = await publish(1, p, [task('planning', 't3')], headers);
    expect(other.status).toBe(422);
    expect(other.body.error.code).toBe('IDEMPOTENCY_MISMATCH');
    expect(await streamLength(p)).toBe(2);
  });

  it('publishes on a condition with If-Match on the one entity the events name', async () => {
    const p = project();
    const first = await publish(0, p, task('planning'), { 'If-None-Match': '*' });
    expect(first.status).toBe(202);
    const [v1] = first.body.ids as string[];
    const etag = (
      await http('GET', `${stack.replicas[1].url}/api/projects/${p}/entities/task:t1`, {
        token: svc,
      })
    ).headers.get('etag');
    expect(etag).toBe(`"${v1}"`);
    expect((await publish(1, p, task('active'), { 'If-Match': etag! })).status).toBe(202);
    const stale = await publish(0, p, task('done'), { 'If-Match': etag! });
    expect(stale.status).toBe(409);
    expect(stale.body.error).toMatchObject({
      code: 'CONFLICT',
      details: { entityKey: 'task:t1', current: { data: { to: 'active' } } },
    });
    const two = await publish(0, p, [task('done', 't1'), task('done', 't2')], {
      'If-Match': etag!,
    });
    expect([two.status, two.body.error.code]).toEqual([400, 'INVALID_PAYLOAD']);
    expect(await streamLength(p)).toBe(2);
  });

  it('publishes once when the connection is cut after the server accepted the request, and the retry gets its ids', async () => {
    const p = project();
    const body = JSON.stringify(task('planning'));
    const { port } = new URL(stack.replicas[0].url);
    const socket = connect(Number(port), '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    const request = [
      `POST /api/projects/${p}/events HTTP/1.1`,
      'Host: localhost',
      `Authorization: Bearer ${svc}`,
      'Content-Type: application/json',
      'Idempotency-Key: cut-1',
      `Content-Length: ${Buffer.byteLength(body)}`,
      '',
      body,
    ].join('\r\n');
    // The whole request sent; once the server has taken it (its event is
    // in the stream) the connection is cut without its answer ever being
    // read: what a producer sees when its timeout or a reset strikes.
    socket.write(request);
    await eventually(async () => (await streamLength(p)) === 1, 10_000, 'the request to land');
    socket.destroy();
    const retry = await publish(1, p, JSON.parse(body), { 'Idempotency-Key': 'cut-1' });
    expect(retry.status).toBe(202);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    const [[id]] = await stack.client.xrange(`${stack.prefix}:{${p}}:events`, '-', '+');
    expect(retry.body).toEqual({ ids: [id] });
    expect(await streamLength(p)).toBe(1);
  });
});
