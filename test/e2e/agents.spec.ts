import { AgentClient } from '../../src/client/agent-client.js';
import { GatewayClient } from '../../src/client/gateway-client.js';
import { GatewayClientError } from '../../src/client/types.js';
import type { EventEnvelope } from '../../src/core/envelope.js';
import { GatewayProcess } from '../support/gateway-process.js';
import { eventually } from '../support/metrics.js';
import { TestStack } from '../support/stack.js';
import { token } from '../support/tokens.js';
import { Viewer } from '../support/viewer.js';

/**
 * Agents and commands across three replicas on one real redis-server: the
 * agent connected to one replica, the dashboard to another, commands and
 * their steps as events on the project stream, each command ending once.
 */
describe('agents and commands across replicas', () => {
  let stack: TestStack;
  const agents: AgentClient[] = [];
  const viewers: Viewer[] = [];
  let seq = 0;
  const project = () => `ag${Date.now().toString(36)}${++seq}`;
  const TIMEOUT_MS = 3000;

  const agentToken = (agentId: string, projectId: string) =>
    token({
      sub: agentId,
      projects: [projectId],
      scope: 'events:publish',
      extra: { role: 'agent' },
    });
  const agent = (url: string | string[], agentId: string, projectId: string) => {
    const a = new AgentClient({
      url,
      token: agentToken(agentId, projectId),
      initialBackoffMs: 100,
      maxBackoffMs: 500,
    });
    agents.push(a);
    return a;
  };
  /** A dashboard: subscribed to the project, with (by default) the command scope. */
  const dashboard = async (
    replica: GatewayProcess,
    projectId: string,
    scope = 'agents:command',
  ) => {
    const v = await Viewer.connect(
      replica.url,
      token({ sub: `op${++seq}`, projects: [projectId], scope }),
    );
    viewers.push(v);
    expect(await v.subscribe({ projectId })).toMatchObject({ ok: true });
    return v;
  };
  const request = (v: Viewer, body: Record<string, unknown>) => v.emit('command:request', body);
  /** The steps of one command as the dashboard saw them. */
  const steps = (v: Viewer, commandId: string) =>
    v.events
      .filter((e) => (e.data as { commandId?: string }).commandId === commandId)
      .map((e) => e.type);
  const presence = (v: Viewer, agentId: string) =>
    v.events
      .filter(
        (e) =>
          e.type === 'agent.presence.changed' &&
          (e.data as { agentId: string }).agentId === agentId,
      )
      .map((e) => (e.data as { to: string }).to);

  beforeAll(async () => {
    stack = await TestStack.start({
      replicas: 3,
      prefix: `ag${process.pid}`,
      env: {
        AGENT_PRESENCE_TIMEOUT_MS: String(TIMEOUT_MS),
        COMMAND_TTL_MS: '2000',
        COMMAND_QUEUE_MAX_PER_AGENT: '3',
        RATE_LIMIT_COMMANDS_PER_SECOND: '20',
      },
    });
  }, 60_000);

  afterEach(() => {
    agents.splice(0).forEach((a) => a.close());
    viewers.splice(0).forEach((v) => v.close());
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('runs a command round trip: agent on A, dashboard on C, its steps in order on the stream', async () => {
    const p = project();
    const [a, , c] = stack.replicas;
    const ops = await dashboard(c, p);
    const worker = agent(a.url, 'agent-1', p).onCommand('agent.instruct', (args, ctx) => {
      ctx.log(`working on: ${args.text}`);
      return `did: ${args.text}`;
    });
    await worker.ready();
    await ops.until(() => presence(ops, 'agent-1').includes('online'));

    const ack = await request(ops, {
      projectId: p,
      agentId: 'agent-1',
      command: 'agent.instruct',
      args: { text: 'tidy up' },
    });
    expect(ack).toEqual({ ok: true, commandId: expect.any(String) });
    const { commandId } = ack as unknown as { commandId: string };
    await ops.until(() => steps(ops, commandId).includes('command.completed'));
    expect(steps(ops, commandId)).toEqual([
      'command.requested',
      'command.accepted',
      'command.completed',
    ]);
    const events = ops.events.filter(
      (e) => (e.data as { commandId?: string }).commandId === commandId,
    );
    expect(events[0].data).toMatchObject({
      agentId: 'agent-1',
      command: 'agent.instruct',
      args: { text: 'tidy up' },
    });
    expect(events[2].data).toMatchObject({ result: 'did: tidy up' });
    // The snapshot holds the command's final state and the agent's presence.
    const late = await Viewer.connect(stack.replicas[1].url, token({ projects: [p] }));
    viewers.push(late);
    const { snapshot } = (await late.subscribe({ projectId: p })) as unknown as {
      snapshot: Record<string, EventEnvelope>;
    };
    expect(snapshot[`command:${commandId}`].type).toBe('command.completed');
    expect(snapshot['presence:agent-1'].data).toMatchObject({ to: 'online' });

    worker.close();
    await ops.until(() => presence(ops, 'agent-1').at(-1) === 'offline');
  });

  it('interrupts a running command: the agent sees an abort signal and the command ends interrupted, once', async () => {
    const p = project();
    const ops = await dashboard(stack.replicas[2], p);
    let aborted = false;
    const worker = agent(stack.replicas[0].url, 'agent-2', p).onCommand(
      'agent.instruct',
      (_args, ctx) =>
        new Promise<string>((_resolve, reject) => {
          ctx.signal.addEventListener('abort', () => {
            aborted = true;
            reject(new Error('interrupted'));
          });
        }),
    );
    await worker.ready();
    const ack = (await request(ops, {
      projectId: p,
      agentId: 'agent-2',
      command: 'agent.instruct',
      args: { text: 'long job' },
    })) as unknown as { commandId: string };
    await ops.until(() => steps(ops, ack.commandId).includes('command.accepted'));
    expect(await ops.emit('command:interrupt', { projectId: p, commandId: ack.commandId })).toEqual(
      {
        ok: true,
      },
    );
    await eventually(() => Promise.resolve(aborted), 10_000, 'the abort signal');
    await ops.until(() => steps(ops, ack.commandId).includes('command.interrupted'));
    // Interrupting again, or the agent's late failure report, changes nothing.
    expect(
      await ops.emit('command:interrupt', { projectId: p, commandId: ack.commandId }),
    ).toMatchObject({
      ok: false,
      error: { code: 'CONFLICT' },
    });
    const marker = (await request(ops, {
      projectId: p,
      agentId: 'agent-2',
      command: 'agent.instruct',
      args: { text: 'marker' },
    })) as unknown as { commandId: string };
    await ops.until(() => steps(ops, marker.commandId).includes('command.requested'));
    expect(steps(ops, ack.commandId)).toEqual([
      'command.requested',
      'command.accepted',
      'command.interrupted',
    ]);
  });

  it('keeps a command for an agent that is offline, and hands it over once when the agent connects', async () => {
    const p = project();
    const ops = await dashboard(stack.replicas[0], p);
    const ack = (await request(ops, {
      projectId: p,
      agentId: 'agent-3',
      command: 'task.retry',
      args: { taskId: 't1' },
    })) as unknown as { commandId: string };
    let runs = 0;
    const worker = agent(stack.replicas[1].url, 'agent-3', p).onCommand('task.retry', (args) => {
      runs++;
      return `retried ${args.taskId}`;
    });
    await ops.until(() => steps(ops, ack.commandId).includes('command.completed'));
    expect(runs).toBe(1);
    expect(steps(ops, ack.commandId)).toEqual([
      'command.requested',
      'command.accepted',
      'command.completed',
    ]);
    void worker;
  });

  it('expires a command nobody accepted in time', async () => {
    const p = project();
    const ops = await dashboard(stack.replicas[1], p);
    const ack = (await request(ops, {
      projectId: p,
      agentId: 'nobody',
      command: 'run.interrupt',
      args: { runId: 'r1' },
    })) as unknown as { commandId: string };
    await ops.until(() => steps(ops, ack.commandId).includes('command.expired'), 15_000);
    expect(steps(ops, ack.commandId)).toEqual(['command.requested', 'command.expired']);
  });

  it('refuses a dashboard without the scope, an invalid or unknown command, too large args, a full queue and too many commands, each with its code', async () => {
    const p = project();
    const viewer = await dashboard(stack.replicas[0], p, '');
    const base = {
      projectId: p,
      agentId: 'agent-x',
      command: 'agent.instruct',
      args: { text: 'hi' },
    };
    expect(await request(viewer, base)).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    const ops = await dashboard(stack.replicas[1], p);
    const cases: [Record<string, unknown>, string][] = [
      [{ ...base, command: 'rm.rf' }, 'INVALID_PAYLOAD'],
      [{ ...base, args: { text: '' } }, 'INVALID_PAYLOAD'],
      [{ ...base, args: { text: 'x', extra: 1 } }, 'INVALID_PAYLOAD'],
      [{ ...base, args: 'text' }, 'INVALID_PAYLOAD'],
      [{ ...base, agentId: 'bad id' }, 'INVALID_PAYLOAD'],
      [{ ...base, args: { text: 'x'.repeat(20_000) } }, 'PAYLOAD_TOO_LARGE'],
      [{ ...base, projectId: 'other' }, 'FORBIDDEN'],
    ];
    for (const [body, code] of cases) {
      expect([body.command, (await request(ops, body)) as unknown]).toEqual([
        body.command,
        { ok: false, error: { code, message: expect.any(String) } },
      ]);
    }
    // Three unfinished commands wait for agent-x (the bound here); a fourth is refused.
    for (let i = 0; i < 3; i++) expect(await request(ops, base)).toMatchObject({ ok: true });
    expect(await request(ops, base)).toMatchObject({ ok: false, error: { code: 'QUEUE_FULL' } });
    // Per user, across the cluster: 20 a second here.
    const burst = await Promise.all(
      Array.from({ length: 30 }, (_, i) => request(ops, { ...base, agentId: `burst-${i}` })),
    );
    expect(burst.filter((r) => !r.ok && r.error?.code === 'RATE_LIMITED').length).toBeGreaterThan(
      0,
    );
    // A retried request with the same commandId counts once (another operator: the burst is theirs).
    const other = await dashboard(stack.replicas[2], p);
    const again = { ...base, agentId: 'agent-y', commandId: `c-${p}` };
    const first = await request(other, again);
    expect(first).toEqual({ ok: true, commandId: `c-${p}` });
    expect(await request(other, again)).toEqual(first);
    const marker = await request(other, { ...base, agentId: 'agent-z' });
    await other.until(
      () => steps(other, (marker as unknown as { commandId: string }).commandId).length > 0,
    );
    expect(steps(other, `c-${p}`)).toEqual(['command.requested']);
  });

  it('ends a command exactly once when the agent’s replica is killed mid-command and the agent moves to another', async () => {
    const p = project();
    const doomed = await GatewayProcess.start(stack.env());
    const ops = await dashboard(stack.replicas[2], p);
    let release: (value: string) => void = () => undefined;
    let runs = 0;
    const worker = agent([doomed.url, stack.replicas[1].url], 'agent-4', p).onCommand(
      'agent.instruct',
      () => {
        runs++;
        return new Promise<string>((resolve) => (release = resolve));
      },
    );
    await worker.ready();
    const ack = (await request(ops, {
      projectId: p,
      agentId: 'agent-4',
      command: 'agent.instruct',
      args: { text: 'survive' },
    })) as unknown as { commandId: string };
    await ops.until(() => steps(ops, ack.commandId).includes('command.accepted'));
    await doomed.kill('SIGKILL');
    // Back on the other replica: online again there, the command handed over again and recognised.
    await ops.until(
      () => presence(ops, 'agent-4').filter((s) => s === 'online').length >= 2,
      15_000,
    );
    release('finished after the move');
    await ops.until(() => steps(ops, ack.commandId).includes('command.completed'), 15_000);
    expect(runs).toBe(1);
    expect(steps(ops, ack.commandId)).toEqual([
      'command.requested',
      'command.accepted',
      'command.completed',
    ]);
    // The dead replica's lease expires, but the agent is online elsewhere: no offline for it.
    const marker = (await request(ops, {
      projectId: p,
      agentId: 'agent-4',
      command: 'agent.instruct',
      args: { text: 'still there?' },
    })) as unknown as { commandId: string };
    release = () => undefined;
    await ops.until(() => steps(ops, marker.commandId).includes('command.accepted'), 15_000);
  }, 60_000);

  it('sends commands through the client library: a round trip across replicas, a coded refusal, one command for a request sent twice', async () => {
    const p = project();
    const [a, b] = stack.replicas;
    const ops = await dashboard(a, p);
    const worker = agent(a.url, 'agent-6', p).onCommand(
      'agent.instruct',
      (args) => `ok: ${args.text}`,
    );
    await worker.ready();
    const client = new GatewayClient({
      url: b.url,
      token: token({ sub: 'op-lib', projects: [p], scope: 'agents:command' }),
      batch: 10,
    });
    try {
      await new Promise<void>((resolve) => client.onState((s) => s === 'live' && resolve()));
      const { commandId } = await client.command(p, 'agent-6', 'agent.instruct', { text: 'hi' });
      await ops.until(() => steps(ops, commandId).includes('command.completed'));
      expect(ops.events.find((e) => e.type === 'command.completed')?.data).toMatchObject({
        commandId,
        result: 'ok: hi',
      });
      // The same id again (a retry after a lost answer): the same command, not a second one.
      expect(
        await client.command(p, 'agent-6', 'agent.instruct', { text: 'hi' }, { commandId }),
      ).toEqual({ commandId });
      const refused = await client
        .command(p, 'agent-6', 'agent.instruct', { text: '' })
        .catch((err: unknown) => err);
      expect(refused).toBeInstanceOf(GatewayClientError);
      expect(refused).toMatchObject({ code: 'INVALID_PAYLOAD', retriable: false });
      const stranger = new GatewayClient({
        url: b.url,
        token: token({ sub: 'op-none', projects: [p] }),
      });
      try {
        await new Promise<void>((resolve) => stranger.onState((s) => s === 'live' && resolve()));
        await expect(
          stranger.command(p, 'agent-6', 'agent.instruct', { text: 'hi' }),
        ).rejects.toMatchObject({ code: 'FORBIDDEN' });
      } finally {
        stranger.close();
      }
      expect(ops.events.filter((e) => e.type === 'command.requested').map((e) => e.data)).toEqual([
        expect.objectContaining({ commandId, requestedBy: 'op-lib' }),
      ]);
    } finally {
      client.close();
    }
  }, 30_000);

  it('publishes an agent offline within the presence timeout when its replica dies', async () => {
    const p = project();
    const doomed = await GatewayProcess.start(stack.env());
    const ops = await dashboard(stack.replicas[0], p);
    const worker = agent(doomed.url, 'agent-5', p);
    await worker.ready();
    await ops.until(() => presence(ops, 'agent-5').includes('online'));
    const killedAt = Date.now();
    await doomed.kill('SIGKILL');
    await ops.until(() => presence(ops, 'agent-5').at(-1) === 'offline', 4 * TIMEOUT_MS);
    // The lease lives TIMEOUT_MS; another replica's sweep (every third of it) finds it.
    expect(Date.now() - killedAt).toBeLessThan(TIMEOUT_MS + TIMEOUT_MS / 3 + 2000);
  }, 30_000);
});
