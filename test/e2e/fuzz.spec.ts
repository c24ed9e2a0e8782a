import { reportFigures } from '../support/figures.js';
import { GatewayProcess } from '../support/gateway-process.js';
import { http } from '../support/http.js';
import { RawEngine } from '../support/raw-engine.js';
import { TestStack } from '../support/stack.js';
import { ResumingViewer, strictlyIncreasingIds } from '../support/resuming-viewer.js';
import { serviceToken, token } from '../support/tokens.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261121);
const FRAMES = 4000;
const BODIES = 600;

/** mulberry32: a small seeded PRNG, so a failing run can be replayed with FUZZ_SEED. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Gen = (r: () => number) => string | Buffer;
const pick = <T>(r: () => number, items: readonly T[]): T => items[Math.floor(r() * items.length)];
const int = (r: () => number, max: number) => Math.floor(r() * max);
const junk = (r: () => number, n: number) =>
  Array.from({ length: n }, () => String.fromCharCode(32 + int(r, 95))).join('');

/** Socket.IO / Engine.IO frames no client should send. */
const generators: Gen[] = [
  // Engine.IO packet types that do not exist, empty and garbage frames.
  (r) => `${pick(r, ['7', '8', '9', 'x', '', ' ', '-1'])}${junk(r, int(r, 20))}`,
  // Socket.IO packet types that do not exist, or in the wrong place.
  (r) => `4${pick(r, ['7', '8', '9', 'a', '6', '1', '0{'])}${junk(r, int(r, 20))}`,
  // Broken JSON.
  (r) => `42${pick(r, ['[', '["subscribe",{', '{}', '["subscribe"', '[,]', '["a",]', 'null'])}`,
  // Deep nesting.
  (r) => {
    const depth = 100 + int(r, 5000);
    return `42["subscribe",${'['.repeat(depth)}${']'.repeat(depth)}]`;
  },
  (r) => {
    const depth = 50 + int(r, 2000);
    return `42["subscribe",${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}]`;
  },
  // Binary attachments announced with bad counts, or never sent.
  (r) =>
    `45${pick(r, ['1', '3', '999999', '0', '-1', '1e9'])}-["subscribe",{"_placeholder":true,"num":${pick(r, ['0', '5', '-1', '"x"', 'null'])}}]`,
  (r) => Buffer.from(Array.from({ length: int(r, 64) }, () => int(r, 256))),
  // Huge numbers: ack ids, values.
  (r) => `42${'9'.repeat(10 + int(r, 400))}["subscribe",{"projectId":"p"}]`,
  (r) =>
    `42["subscribe",{"projectId":${pick(r, ['1e309', '-1e309', '123456789012345678901234567890', 'NaN'])}}]`,
  // Unknown events and dangerous names.
  (r) =>
    `42${pick(r, ['', '7'])}["${pick(r, ['nope', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'connect', 'disconnect', 'error'])}",{"projectId":"p"}]`,
  // Acks for nothing.
  (r) => `43${int(r, 1e9)}[${pick(r, ['', '1', '{"ok":true}', '"x"'])}]`,
  // Other namespaces.
  (r) =>
    `4${pick(r, ['0', '2', '1'])}/${pick(r, ['admin', 'x', '../', ''])},${pick(r, ['', '["x"]', '{}'])}`,
  // Real events with garbage payloads (with and without ack ids).
  (r) =>
    `42${pick(r, ['', String(int(r, 1000))])}["${pick(r, ['subscribe', 'unsubscribe', 'logs:subscribe', 'logs:unsubscribe', 'auth:refresh'])}",${pick(
      r,
      [
        '{}',
        '[]',
        'null',
        '"x"',
        '{"projectId":{"__proto__":{"polluted":1}}}',
        '{"projectId":"p","since":"99999999999999999999-0"}',
        '{"projectId":"p","types":["*.*.*.*.*.*"]}',
        `{"projectId":"${junk(r, 80).replace(/["\\]/g, '')}"}`,
        '{"token":"a.b.c"}',
        '{"projectId":"p","runId":"../../etc"}',
      ],
    )}]`,
  // Pings and pongs at the wrong time, upgrade probes.
  (r) => pick(r, ['2', '3', '2probe', '3probe', '5', '6', '1']),
];

/** Publish API bodies: JSON that parses but is wrong, and bodies too big or too deep. */
const bodyGenerators: Gen[] = [
  (r) => String(pick(r, generators)(r)),
  (r) =>
    JSON.stringify({
      type: pick(r, ['task.status.changed', 'agent.run.log', 'x', '', '__proto__', 42]),
      data: pick(r, [
        {},
        null,
        [],
        { taskId: 'bad id', from: null, to: 'done' },
        { taskId: 't', to: 'nope' },
      ]),
      ...(r() < 0.3 ? { extra: true } : {}),
    }),
  (r) => JSON.stringify(Array.from({ length: 100 + int(r, 50) }, () => ({ type: 'x' }))),
  (r) => `${'['.repeat(1000 + int(r, 5000))}${']'.repeat(1000)}`,
  (r) =>
    JSON.stringify({
      type: 'agent.run.log',
      data: { runId: 'r', line: 'x'.repeat(9000 + int(r, 100)), lineNumber: 1 },
    }),
  (r) => `{"__proto__":{"polluted":${int(r, 9)}},"type":"task.status.changed","data":{}}`,
  () => 'x'.repeat(1_100_000),
];

/**
 * A seeded fuzzer throws thousands of malformed frames at a replica over raw
 * WebSockets, and malformed bodies at the publish API, while a normal viewer
 * watches a project: the replica stays ready, the viewer misses nothing, and
 * nothing unhandled is logged.
 */
describe(`fuzzing (seed ${SEED})`, () => {
  let stack: TestStack;
  let replica: GatewayProcess;

  beforeAll(async () => {
    stack = await TestStack.start({
      replicas: 1,
      prefix: `fz${process.pid}`,
      env: { RATE_LIMIT_PUBLISH_PER_SECOND: '100000' },
    });
    [replica] = stack.replicas;
  }, 30_000);

  afterAll(async () => {
    await stack?.stop();
  });

  it(`survives ${FRAMES} malformed Socket.IO frames and ${BODIES} malformed publish bodies while a viewer keeps receiving`, async () => {
    const r = prng(SEED);
    const viewer = await ResumingViewer.start({
      nextUrl: () => replica.url,
      token: token({ sub: 'watcher' }),
      projectId: 'fz',
    });
    const svc = serviceToken();
    let publishing = true;
    const publishStatuses: number[] = [];
    const publisher = (async () => {
      let n = 0;
      while (publishing) {
        const res = await http('POST', `${replica.url}/api/projects/fz/events`, {
          token: svc,
          body: {
            type: 'task.status.changed',
            data: { taskId: `t${n++}`, from: null, to: 'active' },
          },
        });
        publishStatuses.push(res.status);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();

    const fuzzToken = token({ sub: 'fuzzer' });
    let connections = 0;
    let engine: RawEngine | null = null;
    for (let i = 0; i < FRAMES; i++) {
      if (!engine || !engine.isOpen) {
        engine?.close();
        engine = await RawEngine.open(replica.url);
        connections++;
        // Half the connections never authenticate: frames before the handshake.
        if (r() < 0.5) await engine.connect({ token: fuzzToken }).catch(() => undefined);
      }
      engine.send(pick(r, generators)(r));
      // Let the close of a connection the server dropped be seen before the next frame.
      await new Promise((resolve) => setImmediate(resolve));
    }
    engine?.close();

    const statuses = new Map<number, number>();
    const fuzzPublisher = token({ sub: 'fuzz-publisher', scope: 'events:publish' });
    for (let i = 0; i < BODIES; i++) {
      const res = await http('POST', `${replica.url}/api/projects/fz2/events`, {
        token: fuzzPublisher,
        rawBody: String(pick(r, bodyGenerators)(r)),
      });
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.status !== 202) {
        expect(typeof res.body.error?.code).toBe('string');
      }
    }
    expect(statuses.has(500)).toBe(false);
    expect({}).not.toHaveProperty('polluted');
    expect([...statuses.keys()].every((s) => s === 202 || (s >= 400 && s < 500))).toBe(true);

    publishing = false;
    await publisher;
    expect(new Set(publishStatuses)).toEqual(new Set([202]));
    expect((await http('GET', `${replica.url}/readyz`)).status).toBe(200);
    const ids = await stack.streamIds('fz');
    await viewer.until(() => viewer.lastId === ids.at(-1));
    expect(strictlyIncreasingIds(viewer.events)).toEqual(ids);
    expect(viewer.disconnectedAt).toEqual([]);
    viewer.stop();

    const bad = replica.logs.filter(
      (l) => l.includes('unhandled') || l.includes('"level":"error"') || l.includes('Error:'),
    );
    expect(bad).toEqual([]);
    reportFigures('fuzz', {
      seed: SEED,
      frames: FRAMES,
      connections,
      bodies: BODIES,
      httpStatuses: Object.fromEntries(statuses),
      viewerEvents: viewer.events.length,
    });
  }, 120_000);
});
